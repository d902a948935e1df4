"""Handlers of the labor-education service."""

from __future__ import annotations

from typing import Any

from sanzheng_labor_education import projection
from sanzheng_labor_education.rules import check_completed
from sanzheng_shared import known_students
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import (
    LaborEducationCompleted,
    LaborEducationExempted,
    StudentEnrolled,
)
from sanzheng_shared.events.envelope import CloudEvent


async def student_enrolled(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentEnrolled) and event.subject
    await known_students.on_enrolled(ctx.conn, event, data)
    await known_students.replay_held(ctx, event.subject, INBOUND)


async def student_status(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    await known_students.on_status(ctx.conn, event, data)


async def labor_completed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, LaborEducationCompleted) and event.subject
    student = await known_students.get(ctx.conn, event.subject)
    if student is None:  # the school year needs the cohort: wait for the enrollment
        await known_students.hold(ctx.conn, event, ctx.topic, "student.enrolled")
        return
    policy = ctx.policy_book.for_student(student.school_id, student.cohort, data.period_start)
    reasons = check_completed(data, student.cohort, policy.labor_education.min_days)
    if reasons:
        ctx.reject(event, reasons)
        return
    await projection.add_completed(ctx.conn, event, data)
    ctx.emit(
        ctx.topics.outbound("labor-education"),
        ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
    )


async def labor_exempted(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, LaborEducationExempted)
    await projection.add_exempted(ctx.conn, event, data)
    ctx.emit(
        ctx.topics.outbound("labor-education"),
        ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
    )


INBOUND: dict[str, Handler] = {
    "labor_education.completed": labor_completed,
    "labor_education.exempted": labor_exempted,
}
ENROLLMENT: dict[str, Handler] = {
    "student.enrolled": student_enrolled,
    "student.suspended": student_status,
    "student.resumed": student_status,
    "student.withdrawn": student_status,
}
