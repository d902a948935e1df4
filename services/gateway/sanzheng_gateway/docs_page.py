"""`/docs`: Swagger UI from the vendored swagger-ui-dist (static/swagger-ui/, Apache-2.0),
started by a static script, so the page needs no CDN and no inline script (CSP
`script-src 'self'`). Off with SANZHENG_API_DOCS=false; /openapi.json stays either way."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>sanzheng gateway API</title>
  <link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def mount_docs(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)
