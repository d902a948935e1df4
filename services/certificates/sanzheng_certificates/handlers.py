"""Handlers of the certificates service: certificates it owns and facts it mirrors. Each
marks the student as touched; the batch then decides graduation once per touched student
(`decisions.decide_touched`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sanzheng_certificates import credit_bank, diplomas, rules, waiver_handlers
from sanzheng_certificates.projection import CertificatesState
from sanzheng_shared import known_students, pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import (
    CertificateEarned,
    CertificateRevoked,
    EventData,
    StudentEnrolled,
    SubmissionRejected,
)
from sanzheng_shared.events.envelope import CloudEvent


def certificate_earned(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CertificateEarned) and event.subject
    state: CertificatesState = ctx.state
    held = state.certificates.get(data.certificate_no)
    holder = held["student_id"] if held else None
    if conflict := rules.number_conflict(data.certificate_no, holder, event.subject):
        ctx.reject(event, [conflict])
        return
    if data.kind == "diploma" and held is None and not diplomas.admit(event, ctx):
        return  # held until the student is eligible, or refused (GRAD_NOT_ELIGIBLE)
    if held is None:  # the same number again is the same certificate: nothing new
        state.certificates.put(
            {
                "certificate_no": data.certificate_no,
                "student_id": event.subject,
                "school_id": event.schoolid,
                "kind": data.kind,
                "title": data.title,
                "level": data.level,
                "issuer_type": data.issuer_type,
                "issuer": data.issuer,
                "issued_on": data.issued_on,
            }
        )
        ctx.emit(
            ctx.topics.outbound("certificates"),
            ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
        )
    ctx.touch(event)


def certificate_revoked(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CertificateRevoked) and event.subject
    state: CertificatesState = ctx.state
    held = state.certificates.get(data.certificate_no)
    holder = held["student_id"] if held else None
    if conflict := rules.revocation_conflict(data.certificate_no, holder, event.subject):
        ctx.reject(event, [conflict])
        return
    if state.revocations.get(data.certificate_no) is None:
        state.revocations.put(
            {
                "certificate_no": data.certificate_no,
                "student_id": event.subject,
                "reason": data.reason,
                "on_date": data.on,
            }
        )
        ctx.emit(
            ctx.topics.outbound("certificates"),
            ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
        )
    ctx.touch(event)


def student_enrolled(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentEnrolled)
    known_students.on_enrolled(ctx, event, data)
    state: CertificatesState = ctx.state
    state.programs.put({"student_id": event.subject, "major_code": data.major_code})
    if any(r["waiting_for"] == pending.STUDENT for r in state.pending.of_student(event.subject)):
        pending.release(ctx, pending.STUDENT, student_id=event.subject)  # a diploma held for it
    ctx.touch(event)


def student_status(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
    known_students.on_status(ctx, event, data)
    ctx.touch(event)


_STATUS = {
    "internship.started": "active",
    "internship.completed": "completed",
    "internship.terminated": "terminated",
    "internship.cancelled": "cancelled",
    "internship.expired": "expired",  # left active past its end: not a completion
}


def internship_event(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
    assert event.subject and isinstance(event.data, dict)
    state: CertificatesState = ctx.state
    # The canonical event carries fields (kind, flags) beyond the inbound shape.
    d, status = event.data, _STATUS[event.type]
    old = state.internships.get(d["internship_id"])
    started = status == "active"
    state.internships.put(
        {
            "internship_id": d["internship_id"],
            "student_id": event.subject,
            "kind": d.get("kind") or (old or {}).get("kind") or "post",
            # A start never undoes an end that arrived first (any order, SPEC §4.3).
            "status": old["status"] if old and started else status,
            "hours": d.get("hours") if d.get("hours") is not None else (old or {}).get("hours"),
            "evaluation": d.get("evaluation") or (old or {}).get("evaluation"),
            "flags": d.get("flags", []) if started or not old else old["flags"],
            **_plan(d if started else {}, old),
        }
    )
    ctx.touch(event)


def _plan(d: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """The start's plan, for the internship's pace (deadlines.py); an end keeps it."""

    def day(field: str) -> date | None:
        value = d.get(field)
        if isinstance(value, str):
            return date.fromisoformat(value)
        return value if isinstance(value, date) else (old or {}).get(field)

    weekly = d.get("weekly_hours")
    return {
        "start_on": day("start_on"),
        "planned_end_on": day("planned_end_on"),
        "weekly_hours": float(weekly) if weekly is not None else (old or {}).get("weekly_hours"),
    }


def _labor_kind(event: CloudEvent) -> str:
    # A failed month is an attempt, not a completion (SPEC §2.3).
    return "failed" if (event.data or {}).get("evaluation") == "fail" else "completed"


def labor_event(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    state: CertificatesState = ctx.state
    if state.labor_records.get(event.id) is None:
        state.labor_records.put(
            {
                "event_id": event.id,
                "student_id": event.subject,
                "kind": _labor_kind(event),
            }
        )
    ctx.touch(event)


def submission_rejected(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """A `post` internship the internship service refused keeps the INTERNSHIP requirement
    open until it is corrected, cancelled, or superseded by accepted post internships that
    meet the hours (`graduation.internship`). A refused cognitive visit does not."""
    assert isinstance(data, SubmissionRejected) and event.subject
    refers_to = (event.data or {}).get("refers_to") or {}
    if data.type != "internship.started" or "internship_id" not in refers_to:
        return
    if refers_to.get("kind") == "cognitive":
        return
    state: CertificatesState = ctx.state
    state.internship_rejections.put(
        {
            "internship_id": refers_to["internship_id"],
            "student_id": event.subject,
            "codes": sorted({r.code for r in data.reasons}),
        }
    )
    ctx.touch(event)


INBOUND: dict[str, Handler] = {
    "certificate.earned": certificate_earned,
    "certificate.revoked": certificate_revoked,
    "requirement.waived": waiver_handlers.requirement_waived,
    "requirement.waiver_revoked": waiver_handlers.waiver_revoked,
}


def student_transferred(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
    known_students.on_transferred(ctx, event, data)
    major = (event.data or {}).get("to_major_code")
    if major:  # the program, and so its minimum credits, may change with the major
        state: CertificatesState = ctx.state
        state.programs.put({"student_id": event.subject, "major_code": major})
    ctx.touch(event)  # another school's policy may apply now


ENROLLMENT: dict[str, Handler] = {
    "student.enrolled": student_enrolled,
    "student.transferred": student_transferred,
    "student.suspended": student_status,
    "student.resumed": student_status,
    "student.withdrawn": student_status,
    "student.graduated": student_status,
    "student.repeated_year": student_status,
}
INTERNSHIP: dict[str, Handler] = {
    **dict.fromkeys(_STATUS, internship_event),
}
LABOR: dict[str, Handler] = {
    "labor_education.completed": labor_event,
    "labor_education.exempted": waiver_handlers.labor_exempted,
}
REJECTIONS: dict[str, Handler] = {"submission.rejected": submission_rejected}
CREDITS: dict[str, Handler] = dict(credit_bank.ROUTES)
