"""Dashboard sessions (issue 10): the cookie holds a random session id, never the API
token; the server keeps its hash, ends it at logout, after 30 idle minutes, after 12 hours
in all, and as soon as its token is revoked or expires.

Forms are protected against cross-site requests twice: a double-submit token (a random
value in a SameSite=Strict cookie, repeated in a hidden field) and the request's origin
(the Origin header, or Sec-Fetch-Site), which must be this host."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response

from sanzheng_gateway.tokens import Principal, principal_of

COOKIE = "sz_session"
CSRF_COOKIE = "sz_csrf"
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def start(conn: Any, who: Principal, request: Request, response: Response) -> None:
    session_id = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO sessions (id_hash, token_id) VALUES ($1, $2)", _hash(session_id), who.token_id
    )
    response.set_cookie(
        COOKIE, session_id, httponly=True, samesite="strict", secure=secure(request), path="/"
    )


async def current(conn: Any, request: Request) -> Principal | None:
    """The session's principal, touching it; None when missing, ended, idle or too old."""
    session_id = request.cookies.get(COOKIE, "")
    if not session_id or len(session_id) > 100:
        return None
    row = await conn.fetchrow(
        "UPDATE sessions s SET seen_at = now() FROM tokens t"
        " WHERE s.id_hash = $1 AND s.ended_at IS NULL"
        " AND s.seen_at > now() - $2::interval AND s.created_at > now() - $3::interval"
        " AND t.token_id = s.token_id AND t.revoked_at IS NULL AND t.expires_at > now()"
        " RETURNING t.token_id, t.role, t.school_id, t.classes",
        _hash(session_id),
        IDLE,
        ABSOLUTE,
    )
    return principal_of(row) if row else None


async def end(conn: Any, request: Request, response: Response) -> None:
    if session_id := request.cookies.get(COOKIE, ""):
        await conn.execute(
            "UPDATE sessions SET ended_at = now() WHERE id_hash = $1 AND ended_at IS NULL",
            _hash(session_id[:100]),
        )
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def csrf_token(request: Request) -> tuple[str, bool]:
    """(the form token, whether the cookie must be set now)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(existing) <= 100:
        return existing, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/"
    )


def same_origin(request: Request) -> bool:
    """The form was posted from this host. Browsers send `Origin: null` on form posts from a
    page under `Referrer-Policy: no-referrer` (ours), so a null Origin falls back to Fetch
    Metadata (`Sec-Fetch-Site`), which they send whatever the policy; neither: refused."""
    origin = request.headers.get("origin", "")
    if origin and origin != "null":
        return urlsplit(origin).netloc == request.headers.get("host", "")
    return request.headers.get("sec-fetch-site") == "same-origin"


def form_is_ours(request: Request, submitted: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return (
        same_origin(request)
        and bool(cookie)
        and hmac.compare_digest(cookie.encode(), submitted.encode())
    )
