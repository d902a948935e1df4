"""Inbox retention: rows older than the broker's retention plus the margin are deleted, by
each running service and by `sanzheng prune-inbox`; younger rows keep guarding duplicates."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
from typer.testing import CliRunner

from sanzheng.main import app
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.retention import inbox_keep, prune_inbox
from sanzheng_shared.settings import Settings, get_settings
from sanzheng_shared.testing import eventually, fetch


async def _inbox_with_ages(url: str, ages_in_days: dict[str, float]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, ENROLLMENT.schema, ENROLLMENT.migrations)
        await conn.executemany(
            "INSERT INTO enrollment.inbox (consumer, source, id, received_at)"
            " VALUES ('enrollment', 'sis/SCH001', $1, now() - make_interval(secs => $2))",
            [(event_id, days * 86400) for event_id, days in ages_in_days.items()],
        )
    finally:
        await conn.close()


async def _ids(url: str) -> list[str]:
    return [r["id"] for r in await fetch(url, "SELECT id FROM enrollment.inbox ORDER BY id")]


def test_rows_are_kept_for_the_broker_retention_plus_the_margin() -> None:
    settings = Settings(broker_retention_days=7, inbox_retention_margin_days=1.5)
    assert inbox_keep(settings) == timedelta(days=8.5)
    assert inbox_keep(Settings()) == timedelta(days=100)


async def test_prune_deletes_only_rows_older_than_kept_in_chunks(database_url):
    await _inbox_with_ages(database_url, {f"old-{i}": 9 + i for i in range(5)} | {"new": 8})
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "enrollment"})
    try:
        assert await prune_inbox(conn, timedelta(days=8.5), chunk=2) == 5
        assert await prune_inbox(conn, timedelta(days=8.5), chunk=2) == 0
    finally:
        await conn.close()
    assert await _ids(database_url) == ["new"]


async def test_sanzheng_prune_inbox(database_url, monkeypatch):
    await _inbox_with_ages(database_url, {"old": 101, "new": 99})
    monkeypatch.setenv("SANZHENG_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["prune-inbox", "--service", "enrollment"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "enrollment: 1 inbox rows older than 100 days deleted" in result.output
    assert await _ids(database_url) == ["new"]


async def test_a_running_service_prunes_its_inbox(settings, start_service):
    await _inbox_with_ages(settings.database_url, {"old": 3, "new": 1})
    await start_service(
        ENROLLMENT,
        broker_retention_days=1,
        inbox_retention_margin_days=1,
        inbox_prune_every_seconds=0.2,
    )
    await eventually(lambda: _ids(settings.database_url), lambda ids: ids == ["new"])
