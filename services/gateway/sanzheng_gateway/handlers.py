"""Handlers of the gateway's projection (outbound topics in, read model out)."""

from __future__ import annotations

from sanzheng_gateway import projection
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import EventData
from sanzheng_shared.events.envelope import CloudEvent


async def timeline_only(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    await projection.record(ctx.conn, event)


async def student_enrolled(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    await projection.upsert_student(ctx.conn, event)
    await projection.record(ctx.conn, event)


async def student_status(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    await projection.set_status(ctx.conn, event)
    await projection.record(ctx.conn, event)


async def eligibility_changed(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    await projection.record_decision(ctx.conn, event)


async def submission_held(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    await projection.hold(ctx.conn, event)


async def submission_released(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    await projection.release(ctx.conn, event)


PENDING: dict[str, Handler] = {
    "submission.held": submission_held,
    "submission.released": submission_released,
}
ENROLLMENT: dict[str, Handler] = {
    "student.enrolled": student_enrolled,
    "student.suspended": student_status,
    "student.resumed": student_status,
    "student.withdrawn": student_status,
    **PENDING,
}
INTERNSHIP: dict[str, Handler] = {
    **dict.fromkeys(
        ("internship.started", "internship.completed", "internship.terminated"), timeline_only
    ),
    **PENDING,
}
LABOR: dict[str, Handler] = {
    **dict.fromkeys(("labor_education.completed", "labor_education.exempted"), timeline_only),
    **PENDING,
}
CERTIFICATES: dict[str, Handler] = {
    t: timeline_only for t in ("certificate.earned", "certificate.revoked")
}
GRADUATION: dict[str, Handler] = {"graduation.eligibility_changed": eligibility_changed}
