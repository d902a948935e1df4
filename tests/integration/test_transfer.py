"""A change of school through `student.transferred`, in the enrollment service against the
real database: it takes both schools (or the bureau), and then the new school owns the
student."""

from __future__ import annotations

from typing import Any

from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.testing import cloudevent, enrolled
from tests.integration.conftest import TOPICS, outbox_events, record

INBOUND = TOPICS.inbound("enrollment")


def transferred(student: str, school: str | None, **extra: Any) -> dict[str, Any]:
    data = {
        "transfer_id": f"T-{student}",
        "to_school_id": "SCH002",
        "to_class_id": "B-1",
        "on": "2026-03-01",
        "reason": "搬家",
    }
    event = cloudevent("student.transferred", student, data)
    if school is None:  # the bureau: its own source, no school
        event.pop("schoolid")
        return event | {"source": "bureau/QD-EDU"} | extra
    return event | {"source": f"sis/{school}", "schoolid": school} | extra


async def _school_of(proc: BatchProcessor, student: str) -> str:
    async with proc.pool.acquire() as conn:
        return str(
            await conn.fetchval("SELECT school_id FROM students WHERE student_id = $1", student)
        )


async def test_a_transfer_needs_both_schools_then_the_new_school_owns_the_student(
    enrollment: BatchProcessor,
) -> None:
    await enrollment.process([record(INBOUND, enrolled("TR-1"))])
    # The receiving school agrees first: nothing changes yet.
    outcome = await enrollment.process([record(INBOUND, transferred("TR-1", "SCH002"))])
    assert (outcome.applied, outcome.rejected) == (1, 0)
    assert await _school_of(enrollment, "TR-1") == "SCH001"
    # A third school cannot take part.
    third = await enrollment.process([record(INBOUND, transferred("TR-1", "SCH003"))])
    assert third.rejected == 1
    # The owning school agrees: the transfer takes effect.
    await enrollment.process([record(INBOUND, transferred("TR-1", "SCH001"))])
    assert await _school_of(enrollment, "TR-1") == "SCH002"
    [moved] = [e for e in await outbox_events(enrollment) if e["type"] == "student.transferred"]
    assert moved["schoolid"] == "SCH002"
    assert moved["data"]["from_school_id"] == "SCH001"
    assert moved["data"]["approved_by"] == ["SCH001", "SCH002"]

    # From now on the old school is another school.
    late = cloudevent("student.withdrawn", "TR-1", {"on": "2026-04-01", "reason": "x"})
    outcome = await enrollment.process([record(INBOUND, late)])
    assert outcome.rejected == 1
    rejections = [e for e in await outbox_events(enrollment) if e["type"] == "submission.rejected"]
    assert rejections[-1]["data"]["reasons"][0]["code"] == "STUDENT_OTHER_SCHOOL"


async def test_the_bureau_approves_a_transfer_alone(enrollment: BatchProcessor) -> None:
    await enrollment.process([record(INBOUND, enrolled("TR-2"))])
    await enrollment.process([record(INBOUND, transferred("TR-2", None))])
    assert await _school_of(enrollment, "TR-2") == "SCH002"


async def test_a_transfer_id_another_student_used_is_refused_and_theirs_kept(
    enrollment: BatchProcessor,
) -> None:
    """A transfer id names one transfer of one student: a second student's transfer sent
    with it is refused, and does not overwrite the first one's."""
    await enrollment.process([record(INBOUND, enrolled(s)) for s in ("TR-A", "TR-B")])
    await enrollment.process([record(INBOUND, transferred("TR-A", "SCH002"))])
    reuse = transferred("TR-B", "SCH002")
    reuse["data"] = reuse["data"] | {"transfer_id": "T-TR-A", "to_class_id": "Z-9"}
    outcome = await enrollment.process([record(INBOUND, reuse)])
    assert (outcome.applied, outcome.rejected) == (0, 1)
    async with enrollment.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT student_id, to_class_id FROM transfers WHERE transfer_id = 'T-TR-A'"
        )
    assert (row["student_id"], row["to_class_id"]) == ("TR-A", "B-1")
