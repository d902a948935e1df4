"""A service's view of students it does not own, built from `enrollment.events`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sanzheng_shared import pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import EventData, StudentEnrolled
from sanzheng_shared.events.envelope import CloudEvent

STATUS_BY_EVENT = {
    "student.suspended": "suspended",
    "student.resumed": "enrolled",
    "student.withdrawn": "withdrawn",
}


@dataclass(frozen=True)
class KnownStudent:
    student_id: str
    school_id: str | None
    class_id: str
    cohort: int
    program_years: int
    birth_date: date
    status: str


async def get(conn: Any, student_id: str) -> KnownStudent | None:
    row = await conn.fetchrow("SELECT * FROM known_students WHERE student_id = $1", student_id)
    return KnownStudent(**dict(row)) if row else None


async def on_enrolled(conn: Any, event: CloudEvent, data: StudentEnrolled) -> None:
    await conn.execute(
        "INSERT INTO known_students"
        " (student_id, school_id, class_id, cohort, program_years, birth_date)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (student_id) DO UPDATE SET school_id = excluded.school_id,"
        " class_id = excluded.class_id, cohort = excluded.cohort,"
        " program_years = excluded.program_years, birth_date = excluded.birth_date",
        event.subject,
        event.schoolid,
        data.class_id,
        data.cohort,
        data.program_years,
        data.birth_date,
    )


async def on_status(conn: Any, event: CloudEvent, _data: EventData) -> None:
    await conn.execute(
        "UPDATE known_students SET status = $2 WHERE student_id = $1",
        event.subject,
        STATUS_BY_EVENT[event.type],
    )


def enrollment_routes(inbound: dict[str, Handler]) -> dict[str, Handler]:
    """Routes for `enrollment.events` in a service that keeps known students: learn the
    student, then run what was held waiting for them through `inbound`."""

    async def enrolled(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
        assert isinstance(data, StudentEnrolled) and event.subject
        await on_enrolled(ctx.conn, event, data)
        await pending.replay(ctx, event.subject, pending.STUDENT, inbound)

    async def status(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
        await on_status(ctx.conn, event, data)

    return {
        "student.enrolled": enrolled,
        **dict.fromkeys(STATUS_BY_EVENT, status),
        **pending.IGNORED,
    }
