"""Versioned SQL migrations, applied at start into the service's own schema.

The platform's tables (inbox, offsets, outbox) come first, then the service's own files
`NNN_name.sql`, in order. An advisory lock lets several replicas start at once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from sanzheng_shared.logging import get_logger

log = get_logger(__name__)
PLATFORM_MIGRATIONS = Path(str(resources.files("sanzheng_shared.db") / "migrations"))


def _files(folder: Path, prefix: str) -> list[tuple[str, str]]:
    return [
        (f"{prefix}:{p.stem}", p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.sql"))
    ]


KNOWN_STUDENTS_MIGRATIONS = Path(
    str(resources.files("sanzheng_shared.db") / "migrations_known_students")
)


async def migrate(
    conn: Any, schema: str, service_migrations: Path, *, known_students: bool = False
) -> list[str]:
    """Apply what is missing; returns the versions applied now."""
    steps = _files(PLATFORM_MIGRATIONS, "platform")
    if known_students:
        steps += _files(KNOWN_STUDENTS_MIGRATIONS, "known_students")
    steps += _files(service_migrations, "service")
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        # A service's own role owns its schema but may not create schemas in the database:
        # CREATE SCHEMA only when it is missing (PostgreSQL checks the right first).
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in steps:
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied_now.append(version)
    if applied_now:
        log.info("migrations_applied", schema=schema, versions=applied_now)
    return applied_now
