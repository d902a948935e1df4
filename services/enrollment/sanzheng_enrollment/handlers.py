"""Handlers of the enrollment service: the message first, the context after it."""

from __future__ import annotations

from typing import Any

from sanzheng_enrollment import rules, transfers
from sanzheng_enrollment.privacy import vault
from sanzheng_enrollment.projection import EnrollmentState
from sanzheng_enrollment.rules import check_national_id, duplicate_id, next_status
from sanzheng_shared import pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import (
    CertificateEarned,
    StudentEnrolled,
    StudentStatusChanged,
    StudentTransferred,
)
from sanzheng_shared.events.envelope import CloudEvent, Reason


def student_enrolled(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentEnrolled) and event.subject
    state: EnrollmentState = ctx.state
    protected, sex = None, None
    if data.national_id:
        compact, reasons = check_national_id(data.national_id, data.birth_date)
        if compact is None:
            ctx.reject(event, reasons)
            return
        protected = vault().protect(compact)
        sex = rules.sex_of(compact)
        holder = state.holder_of(protected.fingerprint)
        same_school = holder is not None and holder["school_id"] == event.schoolid
        if conflict := duplicate_id(
            protected.masked,
            holder and holder["student_id"],
            event.subject,
            same_school=same_school,
        ):
            ctx.reject(event, [conflict])
            if holder is not None and not same_school:
                _tell_the_owner(event, holder, ctx)
            return
    old = state.students.get(event.subject) or {}
    state.students.put(
        old
        | {
            "student_id": event.subject,
            # A student stays with the school that enrolled it; a correction keeps it.
            "school_id": old.get("school_id") or event.schoolid,
            "name": data.name,
            "birth_date": data.birth_date,
            "major_code": data.major_code,
            "major_name": data.major_name,
            "class_id": data.class_id,
            "cohort": data.cohort,
            "program_years": data.program_years,
            "enrolled_on": data.enrolled_on,
            "status": old.get("status", "enrolled"),
            "years_behind": old.get("years_behind", 0),
            "expected_graduation": old.get("expected_graduation")
            or rules.base_graduation(data.cohort, data.program_years),
            "sex": sex or old.get("sex"),
            "national_id_hmac": protected.fingerprint if protected else old.get("national_id_hmac"),
            "national_id_enc": protected.ciphertext if protected else old.get("national_id_enc"),
            "national_id_masked": protected.masked if protected else old.get("national_id_masked"),
        }
    )
    # `sex` travels on the internal topic for the internship service's Art. 16(4) check,
    # like the birth date for the age; the gateway never stores or shows it.
    canonical = data.model_dump(mode="json", exclude={"national_id"}) | {
        "national_id_masked": protected.masked if protected else None,
        "sex": sex or old.get("sex"),
    }
    ctx.emit(
        ctx.topics.outbound("enrollment"),
        ctx.derive(event, type="student.enrolled", data=canonical),
    )
    pending.release(ctx, pending.STUDENT, student_id=event.subject)


def _tell_the_owner(event: CloudEvent, holder: Any, ctx: HandlerContext) -> None:
    """The owning school and the bureau learn that another school claimed their student's
    national id (`enrollment.conflict`); the claiming school learns nothing of them."""
    ctx.emit(
        ctx.topics.outbound("enrollment"),
        ctx.derive(
            event,
            type="enrollment.conflict",
            purpose="conflict",
            subject=holder["student_id"],
            data={
                "student_id": holder["student_id"],
                "national_id_masked": holder["national_id_masked"],
                "claimed_by_school": event.schoolid,
                "claimed_as_student": event.subject,
                "claim": {"source": event.source, "id": event.id},
            },
            extra={"schoolid": holder["school_id"]},
        ),
    )


def status_changed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentStatusChanged) and event.subject
    state: EnrollmentState = ctx.state
    student = state.students.get(event.subject)
    if student is None:
        pending.hold(ctx, event, pending.STUDENT)
        return
    status = next_status(student["status"], event.type)
    if isinstance(status, Reason):
        ctx.reject(event, [status])
        return
    if event.type == "student.graduated" and (why := rules.graduation_refused(student["eligible"])):
        ctx.reject(event, [why])
        return
    _change_status(event, event.type, data, ctx, student, status)


def diploma_accepted(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """A diploma the certificates service accepted marks the student graduated (SPEC §2.5):
    that service accepts one only for a student eligible under the policy in force, which is
    the check a school's `student.graduated` gets here (from graduation.events), so it is
    not made twice. A student already graduated, or no longer enrolled, is left as it is."""
    assert isinstance(data, CertificateEarned) and event.subject
    if data.kind != "diploma":
        return
    state: EnrollmentState = ctx.state
    student = state.students.get(event.subject)
    if student is None or student["status"] != "enrolled":
        return
    graduated = StudentStatusChanged(on=data.issued_on, reason=f"diploma {data.certificate_no}")
    _change_status(event, "student.graduated", graduated, ctx, student, "graduated")


def _change_status(
    event: CloudEvent,
    type_: str,
    data: StudentStatusChanged,
    ctx: HandlerContext,
    student: Any,
    status: str,
) -> None:
    state: EnrollmentState = ctx.state
    lifecycle = _lifecycle(student, type_, data, ctx)
    state.students.update(
        student, status=status, status_on=data.on, status_reason=data.reason, **lifecycle
    )
    state.status_changes.put(
        {
            "event_source": event.source,
            "event_id": event.id,
            "student_id": event.subject,
            "status": status,
            "on_date": data.on,
            "reason": data.reason,
        }
    )
    canonical = data.model_dump(mode="json") | {
        "years_behind": lifecycle.get("years_behind", student["years_behind"]),
        "expected_graduation": str(lifecycle.get("expected_graduation") or _expected(student)),
    }
    ctx.emit(
        ctx.topics.outbound("enrollment"),
        ctx.derive(event, type=type_, data=canonical),
    )


def _expected(student: Any) -> Any:
    return student["expected_graduation"] or rules.base_graduation(
        student["cohort"], student["program_years"]
    )


def _lifecycle(student: Any, event_type: str, data: Any, ctx: HandlerContext) -> dict[str, Any]:
    """What a suspension, a resumption or a repeated year does to the expected graduation
    and the grade year (SPEC §2.1)."""
    expected, behind = _expected(student), student["years_behind"]
    if event_type == "student.suspended":
        return {"suspended_on": data.on}
    if event_type == "student.resumed" and student["suspended_on"] is not None:
        policy = ctx.policy_book.for_student(student["school_id"], student["cohort"], expected)
        expected, behind = rules.after_suspension(
            expected,
            behind,
            student["suspended_on"],
            data.on,
            round_up=policy.lifecycle.round_suspension_to_school_years,
        )
        return {"expected_graduation": expected, "years_behind": behind, "suspended_on": None}
    if event_type == "student.repeated_year":
        expected, behind = rules.after_repeated_year(expected, behind)
        return {"expected_graduation": expected, "years_behind": behind}
    return {}


def eligibility_changed(event: CloudEvent, _data: Any, ctx: HandlerContext) -> None:
    """The certificates service's decision: a graduation is confirmed only when eligible."""
    state: EnrollmentState = ctx.state
    student = state.students.get(event.subject or "")
    if student is not None:
        state.students.update(student, eligible=bool((event.data or {}).get("eligible")))


def student_transferred(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, StudentTransferred) and event.subject
    state: EnrollmentState = ctx.state
    student = state.students.get(event.subject)
    if student is None:
        pending.hold(ctx, event, pending.STUDENT)
        return
    owner = student["school_id"]
    speaker = transfers.party(event.source, event.schoolid, owner, data.to_school_id)
    earlier = state.transfers.get(data.transfer_id)
    if speaker is None or (earlier is not None and earlier["student_id"] != event.subject):
        ctx.reject(
            event,
            [Reason("ENR_TRANSFER", "no transfer of this student by this sender", "transfer_id")],
        )
        return
    outcome = transfers.agree(owner, data, speaker, earlier)
    if isinstance(outcome, Reason):
        ctx.reject(event, [outcome])
        return
    state.transfers.put(
        {
            "transfer_id": data.transfer_id,
            "student_id": event.subject,
            "from_school_id": owner,
            "to_school_id": data.to_school_id,
            "to_class_id": data.to_class_id,
            "to_major_code": data.to_major_code,
            "to_major_name": data.to_major_name,
            "on_date": data.on,
            "reason": data.reason,
            "agreed_by": list(outcome.agreed_by),
            "done": outcome.done,
        }
    )
    if not outcome.done:  # waits for the other school (or the bureau)
        return
    state.students.update(
        student,
        school_id=data.to_school_id,
        class_id=data.to_class_id,
        major_code=data.to_major_code or student["major_code"],
        major_name=data.to_major_name or student["major_name"],
    )
    canonical = data.model_dump(mode="json") | {
        "from_school_id": owner,
        "approved_by": list(outcome.agreed_by),
    }
    ctx.emit(
        ctx.topics.outbound("enrollment"),
        ctx.derive(
            event,
            type="student.transferred",
            data=canonical,
            purpose=f"transferred {data.transfer_id}",
            extra={"schoolid": data.to_school_id},
        ),
    )


STATUS: dict[str, Handler] = {
    "student.suspended": status_changed,
    "student.resumed": status_changed,
    "student.withdrawn": status_changed,
    "student.repeated_year": status_changed,
    "student.graduated": status_changed,
}
INBOUND: dict[str, Handler] = {
    "student.enrolled": student_enrolled,
    "student.transferred": student_transferred,
    **STATUS,
}


def _warning(_event: CloudEvent, _data: Any, _ctx: HandlerContext) -> None:
    """Early warnings share graduation.events; the lifecycle needs only the decisions."""


GRADUATION: dict[str, Handler] = {
    "graduation.eligibility_changed": eligibility_changed,
    "student.at_risk": _warning,
    "student.risk_cleared": _warning,
}


def certificate_revoked(_event: CloudEvent, _data: Any, _ctx: HandlerContext) -> None:
    """A revoked certificate does not undo a graduation: that is the school's to correct."""


CERTIFICATES: dict[str, Handler] = {
    "certificate.earned": diploma_accepted,
    "certificate.revoked": certificate_revoked,
}
