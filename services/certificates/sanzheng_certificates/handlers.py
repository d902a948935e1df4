"""Handlers of the certificates service."""

from __future__ import annotations

from typing import Any

from sanzheng_certificates import projection
from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.events.catalogue import StudentEnrolled
from sanzheng_shared.events.envelope import CloudEvent


async def student_enrolled(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentEnrolled)
    assert event.subject is not None
    await projection.upsert_student(ctx.conn, event.subject, event.schoolid, data)
