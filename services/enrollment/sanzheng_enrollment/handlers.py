"""Handlers of the enrollment service: the message first, the context after it."""

from __future__ import annotations

from typing import Any

from sanzheng_enrollment import projection
from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.events.catalogue import StudentEnrolled
from sanzheng_shared.events.envelope import CloudEvent


async def student_enrolled(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentEnrolled)
    assert event.subject is not None
    await projection.upsert_student(ctx.conn, event.subject, event.schoolid, data)
    canonical = data.model_dump(mode="json", exclude={"national_id"})
    ctx.emit(
        ctx.topics.outbound("enrollment"),
        ctx.derive(event, type="student.enrolled", data=canonical),
    )
