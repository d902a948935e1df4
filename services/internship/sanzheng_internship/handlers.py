"""Handlers of the internship service.

A submission that needs facts not known yet (the student's enrollment, or the internship a
completion refers to) is held and replayed when the fact arrives (SPEC §4.3).
"""

from __future__ import annotations

from typing import Any

from sanzheng_internship import projection
from sanzheng_internship.rules import StudentFacts, check_started
from sanzheng_shared import known_students, pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import (
    InternshipCompleted,
    InternshipStarted,
    InternshipTerminated,
)
from sanzheng_shared.events.envelope import CloudEvent, Reason


async def internship_started(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, InternshipStarted) and event.subject
    student = await known_students.get(ctx.conn, event.subject)
    if student is None:
        await pending.hold(ctx, event, pending.STUDENT)
        return
    policy = ctx.policy_book.for_student(student.school_id, student.cohort, data.start_on)
    load = await projection.load_for(ctx.conn, event.subject, data)
    breaches = check_started(data, StudentFacts(student.birth_date, student.cohort), load, policy)
    rejecting = [b for b in breaches if b.severity == "reject"]
    if rejecting:
        ctx.reject(
            event,
            [Reason(b.code, b.message, b.field) for b in rejecting],
            refers_to={"internship_id": data.internship_id},
        )
        return
    flags = [b for b in breaches if b.severity == "flag"]
    await projection.upsert_started(ctx.conn, event.subject, event.schoolid, data, flags)
    canonical = data.model_dump(mode="json") | {
        "flags": [f.as_dict() for f in flags],
        "policy_version": policy.version,
    }
    ctx.emit(
        ctx.topics.outbound("internship"),
        ctx.derive(event, type="internship.started", data=canonical),
    )
    # A completion or termination that arrived first can now be applied.
    await pending.replay(
        ctx, event.subject, pending.waiting_for_internship(data.internship_id), INBOUND
    )


async def _existing(event: CloudEvent, internship_id: str, ctx: HandlerContext) -> Any:
    """The internship a completion/termination refers to; None when it was held or refused."""
    row = await projection.get(ctx.conn, internship_id)
    if row is None:
        await pending.hold(ctx, event, pending.waiting_for_internship(internship_id))
        return None
    if row["student_id"] != event.subject:
        ctx.reject(
            event,
            [
                Reason(
                    "DATA_INVALID",
                    f"internship {internship_id} belongs to another student",
                    "internship_id",
                )
            ],
        )
        return None
    return row


async def internship_completed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, InternshipCompleted)
    row = await _existing(event, data.internship_id, ctx)
    if row is None:
        return
    if data.end_on < row["start_on"]:
        ctx.reject(
            event,
            [
                Reason(
                    "DATA_INVALID",
                    f"end_on {data.end_on} is before the start {row['start_on']}",
                    "end_on",
                )
            ],
        )
        return
    await projection.complete(
        ctx.conn, data.internship_id, data.end_on, data.hours, data.evaluation
    )
    canonical = data.model_dump(mode="json") | {"kind": row["kind"]}
    ctx.emit(
        ctx.topics.outbound("internship"),
        ctx.derive(event, type="internship.completed", data=canonical),
    )


async def internship_terminated(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, InternshipTerminated)
    row = await _existing(event, data.internship_id, ctx)
    if row is None:
        return
    await projection.terminate(ctx.conn, data.internship_id, data.on)
    canonical = data.model_dump(mode="json") | {"kind": row["kind"]}
    ctx.emit(
        ctx.topics.outbound("internship"),
        ctx.derive(event, type="internship.terminated", data=canonical),
    )


INBOUND: dict[str, Handler] = {
    "internship.started": internship_started,
    "internship.completed": internship_completed,
    "internship.terminated": internship_terminated,
}
ENROLLMENT = known_students.enrollment_routes(INBOUND)
