"""`sanzheng token create|revoke|list`: tokens live in the gateway's schema."""

from __future__ import annotations

from typing import Any

import asyncpg

from sanzheng_gateway.app import SPEC as GATEWAY
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.settings import Settings


def database_url(settings: Settings) -> str:
    """The configured database, or the embedded one `sanzheng up` keeps in the data dir."""
    if settings.database_url:
        return settings.database_url
    from sanzheng.embedded import EmbeddedDatabase

    return EmbeddedDatabase.start(settings.data_dir).url


async def with_gateway_schema(url: str) -> Any:
    conn = await asyncpg.connect(url)
    await migrate(conn, GATEWAY.schema, GATEWAY.migrations, known_students=GATEWAY.known_students)
    await conn.execute(f"SET search_path TO {GATEWAY.schema}")
    return conn
