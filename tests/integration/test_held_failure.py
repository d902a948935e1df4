"""A held submission whose handler fails when a later fact releases it: the held one is
dead-lettered and the fact that released it is applied (before, the releasing event took
the blame and the held one waited for ever)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import pytest

from sanzheng_internship.app import SPEC as INTERNSHIP
from sanzheng_shared import failpoints
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.testing import cloudevent, enrolled, fetch, lawful_post_internship
from tests.integration.conftest import TOPICS, canonical, processor, record


@pytest.fixture
async def internship(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, INTERNSHIP):
        yield p


async def test_a_released_submission_that_fails_is_dead_lettered_alone(
    internship: BatchProcessor, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    student = "STU-HELD-FAILS"
    # Before the student's enrollment: held until it arrives (the age and year need it).
    held = cloudevent("internship.started", student, lawful_post_internship(f"I-{student}"))
    await internship.process([record(TOPICS.inbound("internship"), held)])
    assert await fetch(database_url, "SELECT 1 FROM internship.pending") != []

    monkeypatch.setattr(failpoints, "_RAISE", held["id"])
    releasing = canonical(enrolled(student), "enrollment")
    outcome = await internship.process([record(TOPICS.outbound("enrollment"), releasing)])

    assert outcome.applied == 1 and outcome.dead_lettered == 0
    assert await fetch(database_url, "SELECT 1 FROM internship.pending") == []
    known = await fetch(
        database_url, "SELECT 1 FROM internship.known_students WHERE student_id = $1", student
    )
    assert known != []  # the enrollment that released it is applied
    marked = await fetch(
        database_url,
        "SELECT id, dead_lettered_at IS NOT NULL AS dead, reason FROM internship.inbox"
        " WHERE id = ANY($1::text[])",
        [held["id"], releasing["id"]],
    )
    by_id = {r["id"]: r for r in marked}
    assert by_id[held["id"]]["dead"] and "handler failed" in by_id[held["id"]]["reason"]
    assert not by_id[releasing["id"]]["dead"]
    [letter] = await fetch(
        database_url,
        "SELECT value, headers FROM internship.outbox WHERE topic = $1",
        TOPICS.dlq(TOPICS.inbound("internship")),
    )
    assert json.loads(bytes(letter["value"]))["id"] == held["id"]  # the held one, as received
    headers = {
        base64.b64decode(h["k"]).decode(): base64.b64decode(h["v"]).decode()
        for h in json.loads(letter["headers"])
    }
    assert "FailpointError" in headers["x-dlq-reason"]
    assert headers["x-original-topic"] == TOPICS.inbound("internship")
