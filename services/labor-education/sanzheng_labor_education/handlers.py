"""Handlers of the labor-education service."""

from __future__ import annotations

from typing import Any

from sanzheng_labor_education.projection import LaborState
from sanzheng_labor_education.rules import (
    LABOR_MONTH,
    LaborStudent,
    awaits_failed_june,
    check_completed,
    exemption_refusals,
    is_makeup,
)
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
    state: LaborState = ctx.state
    records = [r for r in state.labor_records.of_student(event.subject) if r["period_start"]]
    failed = [r["period_start"].year for r in records if r["kind"] == "failed"]
    passed = [
        r["period_start"].year
        for r in records
        if r["kind"] == "completed" and r["period_start"].month == LABOR_MONTH
    ]
    facts = LaborStudent(
        student.cohort, student.years_behind, max(failed, default=None), max(passed, default=None)
    )
    rules = policy.labor_education
    if awaits_failed_june(data, facts, rules.makeup_in_summer):
        # Held even when it looks invalid now: the grade year may still move (a repeated
        # year or a suspension that comes later), and any order must end the same.
        pending.hold(ctx, event, failed_june(data.period_start.year))
        return
    reasons = check_completed(data, facts, rules.min_working_days, rules.makeup_in_summer)
    if reasons:
        ctx.reject(event, reasons)
        return
    # A `fail` is an attempt that happened and failed: recorded, counted by nobody.
    kind = "completed" if data.evaluation == "pass" else "failed"
    state.labor_records.put(
        {
            "event_source": event.source,
            "event_id": event.id,
            "student_id": event.subject,
            "kind": kind,
            "period_start": data.period_start,
            "period_end": data.period_end,
            "hours": data.hours,
            "site": data.site,
        }
    )
    canonical = data.model_dump(mode="json") | {
        "makeup": is_makeup(data, facts, rules.makeup_in_summer)
    }
    ctx.emit(
        ctx.topics.outbound("labor-education"),
        ctx.derive(event, type=event.type, data=canonical),
    )
    if data.period_start.month == LABOR_MONTH:
        # A summer period that came first can now be checked: a make-up of a failed June,
        # or, after a June passed, refused (LAB_JUNE) as it is when it comes after.
        pending.release(ctx, failed_june(data.period_start.year), student_id=event.subject)


def failed_june(year: int) -> str:
    """What a summer make-up waits for when it arrives before the June of its year."""
    return f"labor_education.failed {year}"


def labor_exempted(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """An exemption is a LABOR_MONTH waiver (SPEC §2.3): accepted only with an approver
    role the policy allows, a reason category and an expiry (the certificates service then
    counts it as a waiver, revocable by the canonical event's id)."""
    assert isinstance(data, LaborEducationExempted) and event.subject
    student = known_students.get(ctx, event.subject)
    policy = ctx.policy_book.for_student(
        student.school_id if student else event.schoolid,
        student.cohort if student else None,
        data.on,
    )
    if reasons := exemption_refusals(data, policy):
        ctx.reject(event, reasons)
        return
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
