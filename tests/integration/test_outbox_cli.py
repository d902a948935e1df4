"""`sanzheng outbox parked|unpark SERVICE`: what the relay parked, and giving it another go."""

from __future__ import annotations

import asyncio

import asyncpg
from typer.testing import CliRunner

from sanzheng.main import app
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.settings import get_settings
from sanzheng_shared.testing import fetch


async def _cli(*args: str) -> str:
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, app, ["outbox", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


async def test_parked_rows_are_listed_with_what_waits_behind_them_and_unparked(
    database_url, monkeypatch
):
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, ENROLLMENT.schema, ENROLLMENT.migrations)
        await conn.execute(
            "INSERT INTO enrollment.outbox (topic, key, value, parked_at, attempts, last_error)"
            " VALUES ('enrollment.events', 'STU-1', 'a', now(), 5, 'topic does not exist'),"
            " ('enrollment.events', 'STU-1', 'b', NULL, 0, NULL)"
        )
    finally:
        await conn.close()
    monkeypatch.setenv("SANZHENG_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")

    listed = await _cli("parked", "enrollment")
    assert "topic does not exist" in listed and "STU-1" in listed
    [row] = [line for line in listed.splitlines() if "STU-1" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert (cells[0], cells[3], cells[5]) == ("1", "5", "1")  # seq, attempts, rows waiting

    assert "1 row(s) un-parked" in await _cli("unpark", "enrollment", "--all")
    rows = await fetch(database_url, "SELECT parked_at, attempts FROM enrollment.outbox")
    assert all(r["parked_at"] is None and r["attempts"] == 0 for r in rows)
    assert "no parked rows" in await _cli("parked", "enrollment")
