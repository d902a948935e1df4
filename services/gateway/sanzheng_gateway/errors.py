"""One shape for every refusal: `{"code", "detail", "reasons"}`. A 4xx always carries a
stable code a client can branch on; FastAPI's own validation errors are reshaped to it, and
they never echo the offending value (it may be a national id, a name, or a NUL byte)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_INPUT",
    429: "TOO_MANY_REQUESTS",
    503: "NOT_READY",
}


class Problem(BaseModel):
    code: str
    detail: str
    reasons: list[dict[str, Any]] = []


class ApiError(HTTPException):
    """An HTTPException with its own code (otherwise the code follows from the status)."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str | None = None,
        reasons: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail, headers)
        self.code = code or CODES.get(status, "ERROR")
        self.reasons = reasons or []


def problem(
    status: int,
    detail: str,
    code: str | None = None,
    reasons: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(code=code or CODES.get(status, "ERROR"), detail=detail, reasons=reasons or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc[1:]) or str(loc[0]) if loc else "request"


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            str(exc.detail),
            getattr(exc, "code", None),
            getattr(exc, "reasons", None),
            exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [
            {"code": "PARAM_INVALID", "field": _field(tuple(e["loc"])), "message": e["msg"]}
            for e in exc.errors()
        ]
        return problem(422, "some parameters are invalid", "INVALID_INPUT", reasons)
