"""Bounds on untrusted input, checked before it is read or parsed.

- Size: a body whose Content-Length is over the limit is refused before a byte of it is
  read, and one streamed without it once it passes the limit. (FastAPI's own
  `max_body_size` answers in plain text without our headers, hence this.)
- Depth: Python's JSON parser recurses once per nesting level, so a body nested a few
  thousand deep raised RecursionError (a 500); the scan below is linear and never recurses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sanzheng_gateway.errors import ApiError, problem

# A CloudEvent is shallow: batch > event > data > a list of flags > a flag. Twice that is
# room for extension attributes without letting a body nest without bound.
MAX_JSON_DEPTH = 16

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (strings skipped); malformed
    input still gives a number, and the parser then says what is wrong with it."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class BodyLimit:
    """413 with a code, from the Content-Length alone (the body is never read), or as soon
    as a body streamed without one passes the limit (counted chunk by chunk as it comes)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        # isascii: `²` is a digit to isdigit() but not to int(); more than 15 digits is over
        # any limit without parsing a number of unbounded size.
        digits = declared.isascii() and declared.isdigit()
        if digits and (len(declared) > 15 or int(declared) > limit):
            await too_large(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ApiError(413, f"the body is over {limit} bytes", "TOO_LARGE")
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except ApiError as exc:  # raised while reading, outside any exception handler
            if exc.status_code != 413 or started:
                raise
            await too_large(limit)(scope, receive, send)


def too_large(limit: int) -> Any:
    return problem(413, f"the body is over {limit} bytes", "TOO_LARGE")
