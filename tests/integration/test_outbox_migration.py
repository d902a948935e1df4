"""Migration 005: an outbox as an older release left it (published rows kept a day, marked
`published_at`) keeps its unpublished and parked rows, and its published ones become counts
per topic."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from sanzheng_shared.db.migrations import migrate

SCHEMA = "outbox_migration_test"


async def test_published_rows_become_counts_and_the_rest_stay(settings, tmp_path: Path) -> None:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        await migrate(conn, SCHEMA, tmp_path)  # the platform tables only
        await conn.execute(f'SET search_path TO "{SCHEMA}"')
        # Back to the release before: the column, its indexes, no counts.
        await conn.execute(
            "DROP TABLE outbox_published; DROP INDEX outbox_unpublished; DROP INDEX outbox_parked;"
            " CREATE INDEX outbox_unpublished ON outbox (seq)"
            "  WHERE published_at IS NULL AND parked_at IS NULL;"
            " CREATE INDEX outbox_parked ON outbox (topic, key, seq)"
            "  WHERE published_at IS NULL AND parked_at IS NOT NULL;"
            " DELETE FROM schema_migrations WHERE version = 'platform:005_outbox_published'"
        )
        await conn.execute(
            "INSERT INTO outbox (topic, key, value, created_at, published_at, parked_at) VALUES"
            " ('a', 'k1', 'x', '2026-12-01 10:00+00', '2026-12-01 10:00+00', NULL),"
            " ('a', 'k2', 'x', '2026-12-01 11:00+00', '2026-12-01 11:00+00', NULL),"
            " ('b', 'k1', 'x', '2026-12-01 09:00+00', '2026-12-01 09:00+00', NULL),"
            " ('a', 'k3', 'waiting', now(), NULL, NULL),"
            " ('b', 'k2', 'parked', now(), NULL, now())"
        )
        assert await migrate(conn, SCHEMA, tmp_path) == ["platform:005_outbox_published"]
        await conn.execute(f'SET search_path TO "{SCHEMA}"')
        counts = {
            r["topic"]: (r["messages"], r["last_created_at"].isoformat())
            for r in await conn.fetch("SELECT * FROM outbox_published")
        }
        assert counts == {
            "a": (2, "2026-12-01T11:00:00+00:00"),
            "b": (1, "2026-12-01T09:00:00+00:00"),
        }
        left = await conn.fetch("SELECT value, parked_at IS NOT NULL AS parked FROM outbox")
        assert sorted((bytes(r["value"]), r["parked"]) for r in left) == [
            (b"parked", True),
            (b"waiting", False),
        ]
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        await conn.close()
