"""Handlers of the enrollment service: the message first, the context after it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sanzheng_enrollment import projection
from sanzheng_enrollment.privacy import NationalIdVault
from sanzheng_enrollment.rules import check_national_id, duplicate_id, next_status
from sanzheng_shared import pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import StudentEnrolled, StudentStatusChanged
from sanzheng_shared.events.envelope import CloudEvent, Reason
from sanzheng_shared.settings import get_settings


@lru_cache(maxsize=1)
def vault() -> NationalIdVault:
    settings = get_settings()
    return NationalIdVault(settings.id_hash_key, settings.id_encryption_key)


async def student_enrolled(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentEnrolled) and event.subject
    protected = None
    if data.national_id:
        compact, reasons = check_national_id(data.national_id, data.birth_date)
        if compact is None:
            ctx.reject(event, reasons)
            return
        protected = vault().protect(compact)
        holder = await projection.holder_of(ctx.conn, protected.fingerprint)
        if conflict := duplicate_id(protected.masked, holder, event.subject):
            ctx.reject(event, [conflict])
            return
    await projection.upsert_student(ctx.conn, event.subject, event.schoolid, data, protected)
    canonical = data.model_dump(mode="json", exclude={"national_id"}) | {
        "national_id_masked": protected.masked if protected else None
    }
    ctx.emit(
        ctx.topics.outbound("enrollment"),
        ctx.derive(event, type="student.enrolled", data=canonical),
    )
    await pending.replay(ctx, event.subject, pending.STUDENT, STATUS)


async def status_changed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentStatusChanged) and event.subject
    student = await projection.get(ctx.conn, event.subject)
    if student is None:
        await pending.hold(ctx, event, pending.STUDENT)
        return
    status = next_status(student["status"], event.type)
    if isinstance(status, Reason):
        ctx.reject(event, [status])
        return
    await projection.change_status(ctx.conn, event, status, data)
    ctx.emit(
        ctx.topics.outbound("enrollment"),
        ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
    )


STATUS: dict[str, Handler] = {
    "student.suspended": status_changed,
    "student.resumed": status_changed,
    "student.withdrawn": status_changed,
}
INBOUND: dict[str, Handler] = {"student.enrolled": student_enrolled, **STATUS}
