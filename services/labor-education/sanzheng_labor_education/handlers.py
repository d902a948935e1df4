"""Handlers of the labor-education service."""

from __future__ import annotations

from typing import Any

from sanzheng_labor_education.projection import LaborState
from sanzheng_labor_education.rules import check_completed
from sanzheng_shared import known_students, pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import (
    LaborEducationCompleted,
    LaborEducationExempted,
)
from sanzheng_shared.events.envelope import CloudEvent


def labor_completed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, LaborEducationCompleted) and event.subject
    student = known_students.get(ctx, event.subject)
    if student is None:  # the school year needs the cohort: wait for the enrollment
        pending.hold(ctx, event, pending.STUDENT)
        return
    policy = ctx.policy_book.for_student(student.school_id, student.cohort, data.period_start)
    reasons = check_completed(data, student.cohort, policy.labor_education.min_days)
    if reasons:
        ctx.reject(event, reasons)
        return
    state: LaborState = ctx.state
    state.labor_records.put(
        {
            "event_source": event.source,
            "event_id": event.id,
            "student_id": event.subject,
            "kind": "completed",
            "period_start": data.period_start,
            "period_end": data.period_end,
            "hours": data.hours,
            "site": data.site,
        }
    )
    ctx.emit(
        ctx.topics.outbound("labor-education"),
        ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
    )


def labor_exempted(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, LaborEducationExempted)
    state: LaborState = ctx.state
    state.labor_records.put(
        {
            "event_source": event.source,
            "event_id": event.id,
            "student_id": event.subject,
            "kind": "exempted",
            "reason": data.reason,
            "approved_by": data.approved_by,
            "on_date": data.on,
        }
    )
    ctx.emit(
        ctx.topics.outbound("labor-education"),
        ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
    )


INBOUND: dict[str, Handler] = {
    "labor_education.completed": labor_completed,
    "labor_education.exempted": labor_exempted,
}
ENROLLMENT = known_students.enrollment_routes(INBOUND)
