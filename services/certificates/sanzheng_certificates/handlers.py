"""Handlers of the certificates service: certificates it owns, facts it mirrors, and the
graduation decision re-evaluated after every event about a student."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sanzheng_certificates import projection, rules
from sanzheng_certificates.graduation import decide
from sanzheng_shared import known_students, pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.domain.school_year import expected_graduation
from sanzheng_shared.events.catalogue import (
    CertificateEarned,
    CertificateRevoked,
    EventData,
    StudentEnrolled,
    SubmissionRejected,
)
from sanzheng_shared.events.envelope import CloudEvent


async def regraduate(event: CloudEvent, ctx: HandlerContext) -> None:
    """Decide again for the event's student; announce the decision if it changed."""
    assert event.subject
    record, student = await projection.student_record(ctx.conn, event.subject)
    school = student["school_id"] if student else event.schoolid
    cohort = student["cohort"] if student else None
    day = (
        expected_graduation(cohort, student["program_years"])
        if student
        else (event.time.date() if event.time else date.today())
    )
    policy = ctx.policy_book.for_student(school, cohort, day)
    decision = decide(record, policy)
    if await projection.last_explanation(ctx.conn, event.subject) == projection.explanation(
        decision
    ):
        return
    decided_at = datetime.now(UTC)
    await projection.save_decision(ctx.conn, event.subject, school, decision, decided_at)
    data = projection.explanation(decision) | {"decided_at": decided_at.isoformat()}
    ctx.emit(
        ctx.topics.graduation,
        ctx.derive(
            event,
            type="graduation.eligibility_changed",
            data=data,
            purpose="graduation",
            extra={"schoolid": school},
        ),
    )


async def certificate_earned(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CertificateEarned)
    assert event.subject
    holder = await projection.certificate_holder(ctx.conn, data.certificate_no)
    if conflict := rules.number_conflict(data.certificate_no, holder, event.subject):
        ctx.reject(event, [conflict])
        return
    if holder is None:  # the same number again is the same certificate: nothing new
        await projection.add_certificate(ctx.conn, event, data)
        ctx.emit(
            ctx.topics.outbound("certificates"),
            ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
        )
    await regraduate(event, ctx)


async def certificate_revoked(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CertificateRevoked)
    assert event.subject
    holder = await projection.certificate_holder(ctx.conn, data.certificate_no)
    if conflict := rules.revocation_conflict(data.certificate_no, holder, event.subject):
        ctx.reject(event, [conflict])
        return
    if await projection.revocation_holder(ctx.conn, data.certificate_no) is None:
        await projection.add_revocation(ctx.conn, event, data)
        ctx.emit(
            ctx.topics.outbound("certificates"),
            ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
        )
    await regraduate(event, ctx)


async def student_enrolled(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentEnrolled)
    await known_students.on_enrolled(ctx.conn, event, data)
    await regraduate(event, ctx)


async def student_status(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
    await known_students.on_status(ctx.conn, event, data)
    await regraduate(event, ctx)


async def internship_event(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
    assert event.subject and isinstance(event.data, dict)
    status = {
        "internship.started": "active",
        "internship.completed": "completed",
        "internship.terminated": "terminated",
    }[event.type]
    # The canonical event carries fields (kind, flags) beyond the inbound shape.
    await projection.upsert_internship(ctx.conn, event.subject, event.data, status)
    await regraduate(event, ctx)


async def labor_event(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    kind = "completed" if event.type == "labor_education.completed" else "exempted"
    await projection.add_labor(ctx.conn, event, kind, getattr(data, "approved_by", None))
    await regraduate(event, ctx)


async def submission_rejected(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """An internship the internship service refused keeps the INTERNSHIP requirement open
    until a corrected submission for the same internship is accepted."""
    assert isinstance(data, SubmissionRejected) and event.subject
    refers_to = (event.data or {}).get("refers_to") or {}
    if data.type != "internship.started" or "internship_id" not in refers_to:
        return
    codes = sorted({r.code for r in data.reasons})
    await projection.add_internship_rejection(
        ctx.conn, event.subject, refers_to["internship_id"], codes
    )
    await regraduate(event, ctx)


INBOUND: dict[str, Handler] = {
    "certificate.earned": certificate_earned,
    "certificate.revoked": certificate_revoked,
}
ENROLLMENT: dict[str, Handler] = {
    "student.enrolled": student_enrolled,
    "student.suspended": student_status,
    "student.resumed": student_status,
    "student.withdrawn": student_status,
    **pending.IGNORED,
}
INTERNSHIP: dict[str, Handler] = {
    **dict.fromkeys(
        ("internship.started", "internship.completed", "internship.terminated"), internship_event
    ),
    **pending.IGNORED,
}
LABOR: dict[str, Handler] = {
    "labor_education.completed": labor_event,
    "labor_education.exempted": labor_event,
    **pending.IGNORED,
}
REJECTIONS: dict[str, Handler] = {"submission.rejected": submission_rejected}
