"""A service's view of students it does not own, built from `enrollment.events`, and the
submissions held until a student is known (SPEC §4.3)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import EventData, StudentEnrolled
from sanzheng_shared.events.envelope import CloudEvent, InvalidData, validate_data

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


async def hold(conn: Any, event: CloudEvent, topic: str, waiting_for: str) -> None:
    await conn.execute(
        "INSERT INTO pending (student_id, topic, event, waiting_for) VALUES ($1, $2, $3, $4)",
        event.subject,
        topic,
        event.model_dump_json(),
        waiting_for,
    )


async def release(conn: Any, student_id: str) -> list[tuple[str, CloudEvent]]:
    """Take the student's held submissions, oldest first."""
    rows = await conn.fetch(
        "DELETE FROM pending WHERE student_id = $1 RETURNING seq, topic, event", student_id
    )
    return [
        (r["topic"], CloudEvent.model_validate(json.loads(r["event"])))
        for r in sorted(rows, key=lambda r: r["seq"])
    ]


async def held(conn: Any, student_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT event, waiting_for, received_at FROM pending WHERE student_id = $1 ORDER BY seq",
        student_id,
    )
    return [{"event": json.loads(r["event"]), "waiting_for": r["waiting_for"]} for r in rows]


async def replay_held(ctx: HandlerContext, student_id: str, handlers: dict[str, Handler]) -> int:
    """Re-run the student's held submissions through their handlers, oldest first. One
    that still lacks a fact is held again by its handler."""
    items = await release(ctx.conn, student_id)
    for topic, event in items:
        sub = HandlerContext(
            ctx.conn,
            ctx.service,
            ctx.topics,
            topic,
            ctx.partition,
            ctx.offset,
            ctx.policies,
            emitted=ctx.emitted,
        )
        try:
            data = validate_data(event)
        except InvalidData as exc:  # validated when it was held; kept for safety
            sub.reject(event, exc.reasons)
            continue
        await handlers[event.type](event, data, sub)
    return len(items)
