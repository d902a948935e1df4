"""Handlers of the credits service."""

from __future__ import annotations

from typing import Any

from sanzheng_credits.projection import CreditsState
from sanzheng_credits.rules import better_than, check_course, recognition_twice, revocable
from sanzheng_shared import known_students, pending
from sanzheng_shared.consumer.context import Handler, HandlerContext, derived_id
from sanzheng_shared.events.catalogue import (
    CertificateEarned,
    CertificateRevoked,
    CourseCompleted,
    CreditRecognized,
    CreditRevoked,
    Evidence,
)
from sanzheng_shared.events.envelope import CloudEvent

SERVICE = "credits"


def canonical_id(source: str, event_id: str, type_: str) -> str:
    """The id of the canonical event this service emitted for an accepted inbound one
    (what the learning account links to)."""
    return str(derived_id(SERVICE, source, event_id, type_))


def course_completed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CourseCompleted) and event.subject
    student = known_students.get(ctx, event.subject)
    if student is None:  # the policy in force needs the school and cohort
        pending.hold(ctx, event, pending.STUDENT)
        return
    policy = ctx.policy_book.for_student(student.school_id, student.cohort, ctx.seen_at().date())
    reasons = check_course(data, policy.credits)
    if reasons:
        ctx.reject(event, reasons, refers_to={"course_code": data.course_code})
        return
    state: CreditsState = ctx.state
    counted = next(
        (
            r
            for r in state.courses.of_student(event.subject)
            if r["course_code"] == data.course_code and r["counted"]
        ),
        None,
    )
    counts = better_than(data, counted)
    replaces = None
    if counts and counted is not None:
        state.courses.update(counted, counted=False)
        replaces = canonical_id(counted["event_source"], counted["event_id"], event.type)
    state.courses.put(
        {
            "event_source": event.source,
            "event_id": event.id,
            "student_id": event.subject,
            "course_code": data.course_code,
            "course_name": data.course_name,
            "category": data.category,
            "class_hours": data.class_hours,
            "practice_hours": data.practice_hours,
            "credits": data.credits,
            "score": data.score,
            "passed": data.passed,
            "term": data.term,
            "counted": counts,
        }
    )
    kept = None if counts or counted is None else counted
    canonical = data.model_dump(mode="json") | {
        "counted": counts,
        "replaces": replaces,
        "duplicate_of": (
            canonical_id(kept["event_source"], kept["event_id"], event.type) if kept else None
        ),
    }
    ctx.emit(ctx.topics.outbound(SERVICE), ctx.derive(event, type=event.type, data=canonical))


def credit_recognized(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CreditRecognized) and event.subject
    state: CreditsState = ctx.state
    current = state.recognitions.get(event.subject, data.recognition_id)
    reasons = recognition_twice(data.recognition_id, current)
    if reasons:
        ctx.reject(event, reasons, refers_to={"recognition_id": data.recognition_id})
        return
    state.recognitions.put(_line(event, data))
    ctx.emit(
        ctx.topics.outbound(SERVICE),
        ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
    )


def credit_revoked(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CreditRevoked) and event.subject
    state: CreditsState = ctx.state
    current = state.recognitions.get(event.subject, data.recognition_id)
    reasons = revocable(data.recognition_id, current)
    if reasons or current is None:
        ctx.reject(event, reasons, refers_to={"recognition_id": data.recognition_id})
        return
    state.recognitions.update(current, revoked=True, revoked_on=data.on)
    revokes = canonical_id(current["event_source"], current["event_id"], "credit.recognized")
    ctx.emit(
        ctx.topics.outbound(SERVICE),
        ctx.derive(
            event, type=event.type, data=data.model_dump(mode="json") | {"revokes": revokes}
        ),
    )


def _line(event: CloudEvent, r: CreditRecognized | None, **values: Any) -> dict[str, Any]:
    """A row of `recognitions`: recognized credit `r` (or, without it, `values`), not
    revoked."""
    row: dict[str, Any] = {
        "student_id": event.subject,
        "event_source": event.source,
        "event_id": event.id,
        "course_code": None,
        "practice_hours": 0,
        "evidence": None,
        "approver": None,
        "on_date": None,
        "revoked": False,
        "revoked_on": None,
    }
    if r is not None:
        row |= {
            "recognition_id": r.recognition_id,
            "kind": r.kind,
            "credits": r.credits,
            "category": r.category,
            "course_code": r.course_code,
            "practice_hours": r.practice_hours,
            "evidence": r.evidence.model_dump(mode="json"),
            "approver": r.approver,
            "on_date": r.on,
        }
    return row | values


def certificate_recognition(certificate_no: str) -> str:
    return f"certificate:{certificate_no}"


def certificate_earned(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """A skill certificate the policy's conversion table converts: `credit.recognized`
    with the certificate as its evidence (certificates.events, accepted there already)."""
    assert isinstance(data, CertificateEarned) and event.subject
    if data.kind != "skill":
        return
    student = known_students.get(ctx, event.subject)
    if student is None:  # the conversion table is the student's school's and cohort's
        pending.hold(ctx, event, pending.STUDENT)
        return
    policy = ctx.policy_book.for_student(student.school_id, student.cohort, data.issued_on)
    row = policy.credits.conversion_for(data.title, data.level, data.issuer_type)
    if row is None:
        return
    state: CreditsState = ctx.state
    rid = certificate_recognition(data.certificate_no)
    current = state.recognitions.get(event.subject, rid)
    if current is not None and (not current["revoked"] or current["on_date"] is None):
        return  # the same certificate again: one credit; or revoked before it came: none
    recognized = CreditRecognized(
        recognition_id=rid,
        credits=row.credits,
        kind="certificate",
        category=row.category,
        course_code=row.course_code,
        practice_hours=row.practice_hours,
        evidence=Evidence(kind="certificate", reference=data.certificate_no),
        approver=f"policy {policy.version}",
        on=data.issued_on,
    )
    state.recognitions.put(_line(event, recognized))
    canonical = recognized.model_dump(mode="json") | {
        "certificate": {"title": data.title, "level": data.level, "issuer": data.issuer},
        "policy_version": policy.version,
    }
    ctx.emit(
        ctx.topics.outbound(SERVICE),
        ctx.derive(event, type="credit.recognized", data=canonical),
    )


def certificate_revoked(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """A revoked certificate revokes the credit it gave."""
    assert isinstance(data, CertificateRevoked) and event.subject
    state: CreditsState = ctx.state
    rid = certificate_recognition(data.certificate_no)
    current = state.recognitions.get(event.subject, rid)
    if current is None:
        # Revoked before it came (any order, SPEC §4.3): kept as a revoked line that gave
        # nothing (no `on_date`), so that the certificate, when it comes, converts to none.
        state.recognitions.put(
            _line(
                event,
                None,
                recognition_id=rid,
                kind="certificate",
                credits=0,
                category="",
                evidence={"kind": "certificate", "reference": data.certificate_no},
                approver="revoked before it was recognized",
                revoked=True,
                revoked_on=data.on,
            )
        )
        return
    if current["revoked"]:
        return
    state.recognitions.update(current, revoked=True, revoked_on=data.on)
    revokes = canonical_id(current["event_source"], current["event_id"], "credit.recognized")
    revocation = CreditRevoked(
        recognition_id=current["recognition_id"],
        reason=f"certificate {data.certificate_no} revoked"
        + (f": {data.reason}" if data.reason else ""),
        on=data.on,
    )
    ctx.emit(
        ctx.topics.outbound(SERVICE),
        ctx.derive(
            event,
            type="credit.revoked",
            data=revocation.model_dump(mode="json") | {"revokes": revokes},
        ),
    )


INBOUND: dict[str, Handler] = {
    "course.completed": course_completed,
    "credit.recognized": credit_recognized,
    "credit.revoked": credit_revoked,
}
CERTIFICATES: dict[str, Handler] = {
    "certificate.earned": certificate_earned,
    "certificate.revoked": certificate_revoked,
}
ENROLLMENT = known_students.enrollment_routes(INBOUND)
