"""The interactive OpenAPI page at /docs, served from the service itself.

FastAPI's own /docs and /redoc pages load Swagger UI and ReDoc from public CDNs: on a network with no way
out (most of our users' servers) they were blank. Swagger UI's files come from the `swagger-ui-py` package
(its copy of Swagger UI 5, which reads the OpenAPI 3.1 that FastAPI writes; Apache 2.0) and are served
here; the page's start-up script is a file too (api/web/docs.js), so the page runs under the same
Content-Security-Policy as the rest: no inline script, no other host.
"""
from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from api.errors import ApiError

router = APIRouter(include_in_schema=False)

# the files of the page: ours (api/web) and Swagger UI's, by the name the page asks for
_OURS = {"docs.js": "text/javascript; charset=utf-8"}
_SWAGGER = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
            "favicon-32x32.png": "image/png"}


@lru_cache(maxsize=len(_SWAGGER))  # read once: the bundle is 1.5 MB and never changes while installed
def _swagger_file(name: str) -> bytes:
    return (files("swagger_ui") / "static" / name).read_bytes()


@router.get("/docs", response_class=HTMLResponse)
def docs_page():
    return HTMLResponse((files("api") / "web" / "docs.html").read_text(encoding="utf-8"))


@router.get("/docs/static/{name}")
def docs_static(name: str):
    if name in _OURS:
        return Response((files("api") / "web" / name).read_bytes(), media_type=_OURS[name])
    if name in _SWAGGER:  # the package's files do not change while it is installed
        return Response(_swagger_file(name), media_type=_SWAGGER[name],
                        headers={"Cache-Control": "public, max-age=86400"})
    raise ApiError(404, "not_found", "no such file")
