"""API tokens (SPEC §8): random, shown once, stored as a hash, revocable, with a
recognisable prefix that tells the role (`szk_c_…` is a counselor's)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

ROLES = ("sis", "counselor", "bureau", "admin")
CROSS_SCHOOL_ROLES = ("bureau", "admin")
PREFIX = "szk_"


@dataclass(frozen=True)
class Principal:
    token_id: str
    role: str
    school_id: str | None

    def may_see(self, school_id: str | None) -> bool:
        return self.role in CROSS_SCHOOL_ROLES or (
            school_id is not None and school_id == self.school_id
        )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(role: str) -> tuple[str, str]:
    """(token, token_id): the token is shown once; its id (a prefix of it) is kept."""
    token = f"{PREFIX}{role[0]}_{secrets.token_urlsafe(32)}"
    return token, token[:14]


class TokenError(ValueError):
    pass


async def create(conn: Any, role: str, school_id: str | None, label: str | None = None) -> str:
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}")
    if role not in CROSS_SCHOOL_ROLES and not school_id:
        raise TokenError(f"a {role} token belongs to one school: give --school")
    if role in CROSS_SCHOOL_ROLES:
        school_id = None
    token, token_id = new_token(role)
    await conn.execute(
        "INSERT INTO tokens (token_id, token_hash, role, school_id, label)"
        " VALUES ($1, $2, $3, $4, $5)",
        token_id,
        digest(token),
        role,
        school_id,
        label,
    )
    return token


async def revoke(conn: Any, token_id: str) -> bool:
    result = await conn.execute(
        "UPDATE tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL",
        token_id[:14],
    )
    return bool(result.endswith(" 1"))


async def list_all(conn: Any) -> list[Any]:
    return list(
        await conn.fetch(
            "SELECT token_id, role, school_id, label, created_at, revoked_at FROM tokens"
            " ORDER BY created_at"
        )
    )


async def authenticate(conn: Any, token: str) -> Principal | None:
    if not token.startswith(PREFIX):
        return None
    row = await conn.fetchrow(
        "SELECT token_id, role, school_id FROM tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        digest(token),
    )
    return Principal(row["token_id"], row["role"], row["school_id"]) if row else None
