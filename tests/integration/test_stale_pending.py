"""Stale waits (issue 9): a submission held longer than the policy's limit is listed,
counted, and expired by the operator into a rejection `PENDING_EXPIRED`, through the
engine (under the student's lock), announced as released; a fresh one is left alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from typer.testing import CliRunner

from sanzheng.main import app
from sanzheng.synthetic import ProvinceGenerator
from sanzheng_internship.app import SPEC as INTERNSHIP
from sanzheng_shared import stale
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.metrics import PENDING_STALE
from sanzheng_shared.policy import PolicyBook
from sanzheng_shared.settings import get_settings
from sanzheng_shared.testing import fetch
from tests.integration.conftest import TOPICS, processor, record


@pytest.fixture
async def internship(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, INTERNSHIP):
        yield p


async def _cli(*args: str) -> str:
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, app, ["pending", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def _started(n: int) -> dict:
    student = ProvinceGenerator(seed=n, id_prefix=f"P{n}").student(n, "complete")
    [sub] = [s for s in student.submissions if s.event["type"] == "internship.started"][:1]
    return sub.event


async def test_a_stale_hold_is_listed_counted_and_expired_into_a_rejection(
    internship: BatchProcessor, database_url: str, monkeypatch
) -> None:
    monkeypatch.setenv("SANZHENG_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps the table to the terminal
    old, fresh = _started(1), _started(2)
    topic = TOPICS.inbound("internship")
    await internship.process([record(topic, old), record(topic, fresh)])
    rows = await fetch(database_url, "SELECT student_id FROM internship.pending")
    assert len(rows) == 2, "both are held: their students are not known yet"
    await fetch(
        database_url,
        "UPDATE internship.pending SET received_at = now() - interval '40 days'"
        " WHERE student_id = $1",
        old["subject"],
    )
    assert stale.limit(PolicyBook.load(None)).days == 30

    listed = await _cli("list", "internship")
    assert old["subject"] in listed and fresh["subject"] not in listed
    assert "student.enrolled" in listed  # what it waits for

    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SET search_path TO internship")
        assert await stale.report(conn, "internship", stale.limit()) == 1
    finally:
        await conn.close()
    assert PENDING_STALE.labels("internship")._value.get() == 1

    out = await _cli("expire", "internship")
    assert "1 held submission(s) rejected with PENDING_EXPIRED" in out
    left = await fetch(database_url, "SELECT student_id FROM internship.pending")
    assert [r["student_id"] for r in left] == [fresh["subject"]]
    emitted = [
        json.loads(r["value"])
        for r in await fetch(database_url, "SELECT value FROM internship.outbox ORDER BY seq")
    ]
    mine = [e for e in emitted if e["subject"] == old["subject"]]
    kinds = [e["type"] for e in mine]
    assert kinds[-2:] == ["submission.released", "submission.rejected"], kinds
    rejection = mine[-1]
    assert rejection["data"]["id"] == old["id"]
    assert rejection["data"]["reasons"][0]["code"] == "PENDING_EXPIRED"
    assert "student.enrolled" in rejection["data"]["reasons"][0]["message"]
    assert "0 held submission(s)" in await _cli("expire", "internship")
