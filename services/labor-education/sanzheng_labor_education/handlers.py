"""Handlers of the labor-education service."""

from __future__ import annotations

from typing import Any

from sanzheng_labor_education import projection
from sanzheng_labor_education.rules import check_completed
from sanzheng_shared import known_students, pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import (
    LaborEducationCompleted,
    LaborEducationExempted,
)
from sanzheng_shared.events.envelope import CloudEvent


async def labor_completed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, LaborEducationCompleted) and event.subject
    student = await known_students.get(ctx.conn, event.subject)
    if student is None:  # the school year needs the cohort: wait for the enrollment
        await pending.hold(ctx, event, pending.STUDENT)
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
ENROLLMENT = known_students.enrollment_routes(INBOUND)
