"""A small ASGI app for /healthz, /readyz and /metrics, served beside each consumer.

Liveness never checks dependencies (a database outage must not restart every pod);
readiness does.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import make_asgi_app

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]


def health_app(service: str, ready: ReadyCheck) -> Any:
    metrics = make_asgi_app()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/metrics":
            await metrics(scope, receive, send)
            return
        body: dict[str, object]
        if path == "/healthz":
            status, body = 200, {"status": "ok", "service": service}
        elif path == "/readyz":
            checks = await ready()
            status = 200 if all(checks.values()) else 503
            body = {"status": "ready" if status == 200 else "not ready", "checks": checks}
        else:
            status, body = 404, {"detail": "not found"}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app
