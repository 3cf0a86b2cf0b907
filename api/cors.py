"""CORS for other sites' pages calling the API (RAG_CORS_ORIGINS; off by default: the service's own page
at / is same-origin and needs none). Starlette's middleware, with a refused preflight answered in the
service's JSON error shape instead of plain text."""
from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from api.errors import error_body


class Cors(CORSMiddleware):
    def __init__(self, app, origins: list[str]):
        super().__init__(app, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"], max_age=600,
                         allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                         expose_headers=["X-Request-ID", "Retry-After", "X-Total-Count",
                                         "X-Export-Left-Out"])

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        what = response.body.decode().removeprefix("Disallowed CORS ")
        body = error_body("cors_refused", f"cross-origin request refused ({what} not allowed): the service "
                          "allows the origins in RAG_CORS_ORIGINS, the methods GET, POST, DELETE and the headers "
                          "Authorization, Content-Type, X-Request-ID")
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return Response(json.dumps(body), status_code=400, headers=headers, media_type="application/json")
