"""One PostgreSQL role per service, owning its own schema and nothing else (SPEC §8).

A service connected as its role can migrate and write its schema and cannot read or write
another's: the gateway cannot change the certificates service's decisions. `sanzheng up`
provisions the roles with the configured (administrator) URL before it starts the
services, and hands each service a URL with its own role; compose runs `sanzheng db
provision` once. Passwords derive from the deployment's HMAC key, so the supervisor and
the services agree without storing them; on the embedded database (local socket, trust)
they are not needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sys
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from sanzheng_shared.logging import get_logger

log = get_logger(__name__)


def role_name(schema: str) -> str:
    return f"sanzheng_{schema}"


def role_password(schema: str, secret: str) -> str:
    """`SANZHENG_DB_PASSWORD_<SCHEMA>` when set (compose: one secret per service), else
    derived from the deployment's secret."""
    if given := os.environ.get(f"SANZHENG_DB_PASSWORD_{schema.upper()}"):
        return given
    return hmac.new(secret.encode(), f"db-role:{schema}".encode(), hashlib.sha256).hexdigest()


def url_for(admin_url: str, schema: str, secret: str) -> str:
    """The admin URL with the service's role and password instead of the admin's."""
    parts = urlsplit(admin_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    login = f"{role_name(schema)}:{quote(role_password(schema, secret), safe='')}"
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


async def can_provision(conn: Any) -> bool:
    row = await conn.fetchrow(
        "SELECT rolsuper OR rolcreaterole AS ok FROM pg_roles WHERE rolname = current_user"
    )
    return bool(row and row["ok"])


async def provision(conn: Any, schema: str, secret: str) -> str:
    """Create (or update) the role, give it the schema and everything already in it, and
    shut everyone else out of the schema. Idempotent; returns the role's name."""
    role = role_name(schema)
    password = role_password(schema, secret)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"provision:{schema}")
        if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role) is None:
            await conn.execute(f'CREATE ROLE "{role}" LOGIN')
        # format() quotes the literal, whatever the password holds.
        statement = await conn.fetchval(
            "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password
        )
        await conn.execute(statement)
        await conn.execute(f'GRANT "{role}" TO current_user')  # so the admin may hand it over
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{role}"')
        await conn.execute(f'ALTER SCHEMA "{schema}" OWNER TO "{role}"')
        # Tables first: a serial's sequence follows its table; then what is left.
        for kinds in (["r", "p", "v"], ["S"]):
            owned = await conn.fetch(
                "SELECT c.relname AS name FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = $1 AND c.relkind::text = ANY($2::text[])"
                " AND pg_get_userbyid(c.relowner) <> $3",
                schema,
                kinds,
                role,
            )
            what = "SEQUENCE" if kinds == ["S"] else "TABLE"
            for row in owned:
                await conn.execute(f'ALTER {what} "{schema}"."{row["name"]}" OWNER TO "{role}"')
        functions = await conn.fetch(
            "SELECT p.oid::regprocedure::text AS sig FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = $1 AND pg_get_userbyid(p.proowner) <> $2",
            schema,
            role,
        )
        for row in functions:
            await conn.execute(f'ALTER FUNCTION {row["sig"]} OWNER TO "{role}"')
        await conn.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC')
    log.info("database_role_provisioned", schema=schema, role=role)
    return role


async def _provision_all(admin_url: str, schemas: list[str], secret: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        for schema in schemas:
            await provision(conn, schema, secret)
    finally:
        await conn.close()


if __name__ == "__main__":  # compose's one-shot step: python -m sanzheng_shared.db.roles S…
    from sanzheng_shared.settings import get_settings

    settings = get_settings()
    if not settings.database_url or len(sys.argv) < 2:
        raise SystemExit(
            "usage: SANZHENG_DATABASE_URL=<admin url> python -m sanzheng_shared.db.roles SCHEMA…"
        )
    asyncio.run(_provision_all(settings.database_url, sys.argv[1:], settings.id_hash_key))
