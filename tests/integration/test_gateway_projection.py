"""The gateway's read model never moves a student to another school (issue 10, finding 1):
an enrollment, a status change, a decision or a timeline event naming another school for a
known student changes nothing that the owning school's counselor sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from sanzheng_gateway import projection, queries
from sanzheng_gateway.app import SPEC
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.testing import cloudevent, enrolled


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(database_url)
    await migrate(connection, SPEC.schema, SPEC.migrations, known_students=SPEC.known_students)
    await connection.execute("SET search_path TO gateway")
    yield connection
    await connection.close()


def _from(school: str, event: dict[str, Any]) -> CloudEvent:
    return CloudEvent.model_validate(event | {"schoolid": school, "source": f"sis/{school}"})


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


async def test_another_schools_events_change_nothing_of_a_known_student(conn) -> None:
    mine = enrolled("S1", national_id_masked="110105********1233")
    await projection.upsert_student(conn, _from("SCH001", mine))
    await projection.record(conn, _from("SCH001", mine))
    await projection.record_decision(
        conn, _from("SCH001", _decision("S1", False, "2026-01-01T00:00:00+00:00"))
    )
    before = await queries.student(conn, "S1")

    theirs = enrolled("S1", name="李四", class_id="B-1")
    await projection.upsert_student(conn, _from("SCH002", theirs))
    await projection.record(conn, _from("SCH002", theirs))
    withdrawn = cloudevent("student.withdrawn", "S1", {"on": "2026-01-02", "reason": "x"})
    await projection.set_status(conn, _from("SCH002", withdrawn))
    await projection.record(conn, _from("SCH002", withdrawn))
    await projection.record_decision(
        conn, _from("SCH002", _decision("S1", True, "2026-02-01T00:00:00+00:00"))
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


async def test_the_read_model_keeps_no_more_than_the_last_four(conn) -> None:
    event = _from("SCH001", enrolled("S2", national_id_masked="110105********1233"))
    await projection.upsert_student(conn, event)
    await projection.record(conn, event)
    record = await queries.student(conn, "S2")
    assert record is not None and record["national_id_masked"] == "**************1233"
    [item] = await queries.timeline(conn, "S2")
    assert "birth_date" not in item["data"]
    assert item["data"]["national_id_masked"] == "**************1233"
