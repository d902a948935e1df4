"""Headers on every response (issue 10), and the request id every log line and access-log
row carries. Pure ASGI, so it also covers responses made by Starlette itself (404s, 413s).

- CSP: scripts and styles only from this origin (htmx and Swagger UI are vendored), no
  framing; Swagger UI styles its widgets inline, so /docs alone allows inline styles.
- nosniff, no referrer (URLs carry student ids), no framing for old browsers either.
- `Cache-Control: no-store` on everything but the vendored static files: API answers and
  pages carry personal data and must not stay in a shared or browser cache."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sanzheng_gateway.inputs import request_id

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
FIXED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(Headers(scope=scope).get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = rid
        path: str = scope["path"]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(FIXED)
                headers["content-security-policy"] = DOCS_CSP if path == "/docs" else CSP
                if not path.startswith("/static/"):
                    headers["cache-control"] = "no-store"
                headers["x-request-id"] = rid
            await send(message)

        await self.app(scope, receive, with_headers)
