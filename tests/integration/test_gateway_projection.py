"""The gateway's read model never moves a student to another school (issue 10, finding 1):
an enrollment, a status change, a decision or a timeline event naming another school for a
known student changes nothing that the owning school's counselor sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from sanzheng_gateway import queries
from sanzheng_gateway.app import SPEC
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.testing import cloudevent, enrolled
from tests.integration.conftest import TOPICS, processor, record

ENROLLMENT = TOPICS.outbound("enrollment")
GRADUATION = TOPICS.graduation


@pytest.fixture
async def gateway(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, SPEC):
        yield p


@pytest.fixture
async def conn(database_url: str, gateway: BatchProcessor) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(database_url)
    await connection.execute("SET search_path TO gateway")
    yield connection
    await connection.close()


def _from(school: str, event: dict[str, Any]) -> dict[str, Any]:
    return event | {"schoolid": school, "source": f"sanzheng/{school}"}


async def _apply(gateway: BatchProcessor, topic: str, event: dict[str, Any]) -> None:
    outcome = await gateway.process([record(topic, event)])
    assert outcome.dead_lettered == 0


def _decision(student: str, eligible: bool, at: str) -> dict[str, Any]:
    return cloudevent(
        "graduation.eligibility_changed",
        student,
        {
            "eligible": eligible,
            "requirements": [{"code": "ENROLLED", "met": eligible, "detail": "x"}],
            "policy_version": "p1",
            "decided_at": at,
        },
    )


async def test_another_schools_events_change_nothing_of_a_known_student(
    gateway: BatchProcessor, conn: Any
) -> None:
    mine = _from("SCH001", enrolled("S1", national_id_masked="110105********1233"))
    await _apply(gateway, ENROLLMENT, mine)
    await _apply(
        gateway, GRADUATION, _from("SCH001", _decision("S1", False, "2026-01-01T00:00:00+00:00"))
    )
    before = await queries.student(conn, "S1")

    await _apply(gateway, ENROLLMENT, _from("SCH002", enrolled("S1", name="李四", class_id="B-1")))
    withdrawn = cloudevent("student.withdrawn", "S1", {"on": "2026-01-02", "reason": "x"})
    await _apply(gateway, ENROLLMENT, _from("SCH002", withdrawn))
    await _apply(
        gateway, GRADUATION, _from("SCH002", _decision("S1", True, "2026-02-01T00:00:00+00:00"))
    )

    assert await queries.school_of(conn, "S1") == "SCH001"
    assert await queries.student(conn, "S1") == before
    assert before is not None and before["status"] == "enrolled"
    assert [e["id"] for e in await queries.timeline(conn, "S1")] == [mine["id"]]
    decision = await queries.graduation(conn, "S1")
    assert decision is not None and decision["eligible"] is False
    assert await conn.fetchval("SELECT school_id FROM decisions WHERE student_id = 'S1'") == (
        "SCH001"
    )


async def test_the_read_model_keeps_no_more_than_the_last_four(
    gateway: BatchProcessor, conn: Any
) -> None:
    await _apply(
        gateway,
        ENROLLMENT,
        _from("SCH001", enrolled("S2", national_id_masked="110105********1233")),
    )
    student = await queries.student(conn, "S2")
    assert student is not None and student["national_id_masked"] == "**************1233"
    [item] = await queries.timeline(conn, "S2")
    assert "birth_date" not in item["data"]
    assert item["data"]["national_id_masked"] == "**************1233"


async def test_a_submission_held_longer_than_the_policy_limit_shows_as_stale(
    gateway: BatchProcessor, conn: Any
) -> None:
    """Issue 9: the student view shows since when a submission is held, and says when that
    is longer than the policy's limit (30 days): the operator may expire it."""
    from datetime import UTC, datetime, timedelta

    def held(student: str, at: datetime) -> dict[str, Any]:
        return cloudevent(
            "submission.held",
            student,
            {
                "source": "sis/SCH001",
                "id": f"held-{student}",
                "type": "labor_education.completed",
                "waiting_for": "student.enrolled",
            },
            source="sanzheng/labor-education",
            time=at.isoformat(),
        )

    now = datetime.now(UTC)
    await _apply(gateway, TOPICS.outbound("labor-education"), held("OLD1", now - timedelta(40)))
    await _apply(gateway, TOPICS.outbound("labor-education"), held("NEW1", now - timedelta(2)))
    [old] = await queries.held(conn, "OLD1")
    [new] = await queries.held(conn, "NEW1")
    assert (old["stale"], new["stale"]) == (True, False)
    assert old["held_since"] < now - timedelta(39)
    [short] = await queries.held(conn, "NEW1", timedelta(days=1))
    assert short["stale"]
