"""API tokens (SPEC §8): random, shown once, stored as a hash, revocable, with a
recognisable prefix that tells the role (`szk_c_…` is a counselor's). Every token expires
(90 days unless its creator says otherwise). Its public id (`szk_c_id_…`, shown by `token
list` and written to the access log) is random too: it says nothing about the secret."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ROLES = ("sis", "counselor", "principal", "bureau", "admin")
# A principal (校长) approves waivers for one school's students; the bureau for every school.
CROSS_SCHOOL_ROLES = ("bureau", "admin")
PREFIX = "szk_"
DEFAULT_LIFETIME = timedelta(days=90)


@dataclass(frozen=True)
class Principal:
    token_id: str
    role: str
    school_id: str | None
    # A counselor's own classes (in the order given): the dashboard opens on the first.
    classes: tuple[str, ...] = ()

    def may_see(self, school_id: str | None) -> bool:
        return self.role in CROSS_SCHOOL_ROLES or (
            school_id is not None and school_id == self.school_id
        )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(role: str) -> tuple[str, str]:
    """(token, token_id): the token is shown once; its id is drawn separately."""
    token = f"{PREFIX}{role[0]}_{secrets.token_urlsafe(32)}"
    return token, f"{PREFIX}{role[0]}_id_{secrets.token_hex(6)}"


class TokenError(ValueError):
    pass


_LIFETIME = re.compile(r"(\d{1,5})([dh])")


def expiry(expires: str | None, now: datetime | None = None) -> datetime:
    """When a token made now expires: `--expires 30d`, `12h`, or a date `2026-07-01`."""
    now = now or datetime.now(UTC)
    if not expires:
        return now + DEFAULT_LIFETIME
    if found := _LIFETIME.fullmatch(expires.strip()):
        amount, unit = int(found.group(1)), found.group(2)
        return now + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        when = datetime.fromisoformat(expires.strip())
    except ValueError:
        raise TokenError("--expires is a number of days (30d), hours (12h) or a date") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise TokenError("--expires must be in the future")
    return when


async def create(
    conn: Any,
    role: str,
    school_id: str | None,
    label: str | None = None,
    expires_at: datetime | None = None,
    classes: tuple[str, ...] = (),
) -> str:
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}")
    if classes and role != "counselor":
        raise TokenError("only a counselor token carries classes (--class)")
    if any(not c.strip() or len(c) > 50 for c in classes):
        raise TokenError("a class id is 1 to 50 characters")
    if role not in CROSS_SCHOOL_ROLES and not school_id:
        raise TokenError(f"a {role} token belongs to one school: give --school")
    if role in CROSS_SCHOOL_ROLES:
        school_id = None
    token, token_id = new_token(role)
    await conn.execute(
        "INSERT INTO tokens (token_id, token_hash, role, school_id, label, expires_at, classes)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        token_id,
        digest(token),
        role,
        school_id,
        label,
        expires_at or expiry(None),
        list(dict.fromkeys(c.strip() for c in classes)),
    )
    return token


async def id_of(conn: Any, token: str) -> str | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT token_id FROM tokens WHERE token_hash = $1", digest(token)
    )


async def revoke(conn: Any, token_or_id: str) -> bool:
    """Revoke by public id, or by the token itself; its dashboard sessions end with it."""
    result = await conn.execute(
        "UPDATE tokens SET revoked_at = now()"
        " WHERE (token_id = $1 OR token_hash = $2) AND revoked_at IS NULL",
        token_or_id,
        digest(token_or_id),
    )
    return bool(result.endswith(" 1"))


async def list_all(conn: Any) -> list[Any]:
    return list(
        await conn.fetch(
            "SELECT token_id, role, school_id, classes, label, created_at, expires_at, revoked_at"
            " FROM tokens ORDER BY created_at"
        )
    )


async def authenticate(conn: Any, token: str) -> Principal | None:
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = await conn.fetchrow(
        "SELECT token_id, role, school_id, classes FROM tokens WHERE token_hash = $1"
        " AND revoked_at IS NULL AND expires_at > now()",
        digest(token),
    )
    return principal_of(row) if row else None


def principal_of(row: Any) -> Principal:
    return Principal(row["token_id"], row["role"], row["school_id"], tuple(row["classes"] or ()))
