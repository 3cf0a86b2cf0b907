"""Errors as JSON: every 4xx/5xx body is {"error": {"code", "message"}, "request_id"}.

Handlers turn validation errors, HTTP errors and our own ApiError into that shape; anything
unexpected is logged with its request id and answered 500 without internals (by
api.middleware.RequestContext, inside the request's context; the handler here is the last resort
for what escapes the middleware itself, and still names the request id).

A message that quotes the client's input ("no answer '13812345678'") is masked as log lines are
(rag.guard.personal_data: resident ID, bank card and phone numbers, e-mail addresses): an error body
reaches proxies' and browsers' logs, a shared screen, a support ticket."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.observability import request_id_var
from rag.guard.personal_data import mask_personal

log = logging.getLogger("api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.details = details or []  # a 422's fields at fault, as error.details (docs/api.md)

    @property
    def extra(self) -> dict:
        """What error_body adds to code and message: the details, when there are any."""
        return {"details": self.details} if self.details else {}


def error_body(code: str, message: str, *, request_id: str | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": mask_personal(message), **extra},
            "request_id": request_id or request_id_var.get()}


def error_response(status: int, code: str, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_request",
         429: "rate_limited", 503: "unavailable"}


def validation_error(errors: list[dict]) -> tuple[str, list[dict]]:
    """A request's validation errors as the message (the first field at fault: `body.question: String should have
    at least 1 character`) and the details (`loc`, `msg`, `type` of each), the client's input masked."""
    details = [{"loc": [mask_personal(p) if isinstance(p, str) else p for p in e.get("loc", ())],
                "msg": mask_personal(e.get("msg", "")), "type": e.get("type", "")} for e in errors]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return (f"{where}: {first['msg']}" if where else first["msg"]), details


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        message, details = validation_error(exc.errors())
        return error_response(422, "invalid_request", message, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, CODES.get(exc.status_code, "error"), message,
                              getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # Starlette calls this outside the request middleware: take the id from the scope
        rid = request.scope.get("state", {}).get("request_id") or request_id_var.get()
        log.exception("unhandled error on %s %s", request.method, request.url.path, extra={"request_id": rid})
        body = error_body("internal", "internal error; the request id identifies it in the logs", request_id=rid)
        return JSONResponse(body, status_code=500, headers={"X-Request-ID": rid} if rid != "-" else None)
