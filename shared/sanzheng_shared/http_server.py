"""Serve an ASGI app with uvicorn inside a process that owns its own signal handling."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process's runner decides when to stop (it must drain the consumer first).
        yield


class EmbeddedHttpServer:
    def __init__(self, app: Any, host: str, port: int) -> None:
        self.server = _Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (port taken, …)
            await asyncio.sleep(0.02)

    @property
    def port(self) -> int:
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.server.config.port

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        await self._task
