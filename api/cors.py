"""CORS for other sites' pages calling the API (RAG_CORS_ORIGINS; off by default: the service's own page
at / is same-origin and needs none). Starlette's middleware, with a refused preflight answered in the
service's JSON error shape instead of plain text."""
from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from api.errors import error_body

# every method a /v1 route takes (PUT: /v1/kbs/{kb}/synonyms)
METHODS = ("GET", "POST", "PUT", "DELETE")
# what a page may read of a response: the request id, the wait of a 429/503, a list's total and what an export carries
EXPOSED = ("X-Request-ID", "Retry-After", "X-Total-Count", "X-Export-Left-Out", "X-Export-Originals",
           "X-Export-Originals-MB", "X-Export-OCR-Cache-MB")


class Cors(CORSMiddleware):
    def __init__(self, app, origins: list[str]):
        super().__init__(app, allow_origins=origins, allow_methods=list(METHODS), max_age=600,
                         allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                         expose_headers=list(EXPOSED))

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        what = response.body.decode().removeprefix("Disallowed CORS ")
        body = error_body("cors_refused", f"cross-origin request refused ({what} not allowed): the service "
                          f"allows the origins in RAG_CORS_ORIGINS, the methods {', '.join(METHODS)} and the headers "
                          "Authorization, Content-Type, X-Request-ID")
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return Response(json.dumps(body), status_code=400, headers=headers, media_type="application/json")
