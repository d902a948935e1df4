"""Errors on the dashboard are pages of the site: a browser that asks for `/` or `/ui/…`
gets the site's header, the error in words and a link home, never the API's JSON problem
or a bare "Internal Server Error". The API keeps its JSON answers (errors.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException

from sanzheng_gateway import headers
from sanzheng_gateway.errors import CODES
from sanzheng_shared.logging import get_logger

log = get_logger(__name__)

# (request, status, stable code): the page shows the code, for a report to the help desk.
Render = Callable[[Request, int, str], Response]


def is_dashboard(request: Request) -> bool:
    path = request.url.path
    return path == "/" or path == "/ui" or path.startswith("/ui/")


def install(app: FastAPI, render: Render) -> None:
    """Wrap the API's handlers: dashboard paths get `render(request, status)`."""
    api_http: Any = app.exception_handlers[HTTPException]
    api_invalid: Any = app.exception_handlers[RequestValidationError]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        if not is_dashboard(request):
            return await api_http(request, exc)
        code = getattr(exc, "code", None) or CODES.get(exc.status_code, "ERROR")
        response = render(request, exc.status_code, code)
        for name, value in (exc.headers or {}).items():  # e.g. Retry-After
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        if not is_dashboard(request):
            return await api_invalid(request, exc)
        return render(request, 422, "INVALID_INPUT")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("dashboard_error", path=request.url.path, error=type(exc).__name__)
        if not is_dashboard(request):
            response: Response = PlainTextResponse("Internal Server Error", status_code=500)
        else:
            try:
                response = render(request, 500, "INTERNAL_ERROR")
            except Exception:  # the page itself failed: say so plainly, with a way home
                response = PlainTextResponse("500 · 服务器内部错误 / Internal error · /", 500)
        # A crash is answered by the outermost middleware, outside SecurityHeaders.
        response.headers.update(headers.FIXED)
        response.headers["content-security-policy"] = headers.CSP
        response.headers["cache-control"] = "no-store"
        return response
