"""Handlers of the internship service.

A submission that needs facts not known yet (the student's enrollment, or the internship a
completion refers to) is held and run again when the fact arrives (SPEC §4.3).
"""

from __future__ import annotations

from typing import Any

from sanzheng_internship.projection import InternshipState
from sanzheng_internship.rules import StudentFacts, check_recorded_hours, check_started
from sanzheng_shared import known_students, pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import (
    InternshipCancelled,
    InternshipCompleted,
    InternshipExpired,
    InternshipStarted,
    InternshipTerminated,
)
from sanzheng_shared.events.envelope import CloudEvent, Reason

# Flags a completion replaces: its own hours check, and the expiry of a placement left open.
CLOSED_FLAGS = ("INT_HOURS_RECORDED", "INT_EXPIRED")


def internship_started(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, InternshipStarted) and event.subject
    state: InternshipState = ctx.state
    student = known_students.get(ctx, event.subject)
    if student is None:
        pending.hold(ctx, event, pending.STUDENT)
        return
    policy = ctx.policy_book.for_student(student.school_id, student.cohort, data.start_on)
    post_kind = policy.internships.post_kind(data.post_category, data.post_title)
    load = state.load_for(event.subject, data, post_kind)
    facts = StudentFacts(student.birth_date, student.cohort, student.sex, student.years_behind)
    breaches = check_started(data, facts, load, policy)
    rejecting = [b for b in breaches if b.severity == "reject"]
    if rejecting:
        ctx.reject(
            event,
            [Reason(b.code, b.message, b.field) for b in rejecting],
            refers_to={"internship_id": data.internship_id, "kind": data.kind},
        )
        return
    flags = [b for b in breaches if b.severity == "flag"]
    # A withdrawal that arrived first (any order, SPEC §4.3) keeps the internship cancelled.
    cancelled = state.cancellations.get(data.internship_id)
    old = state.internships.get(data.internship_id) or {
        "status": "cancelled" if cancelled else "active"
    }
    state.internships.put(
        old
        | {
            "internship_id": data.internship_id,
            "student_id": event.subject,
            "school_id": event.schoolid,
            "kind": data.kind,
            "mode": data.mode,
            "employer_id": data.employer_id,
            "employer_name": data.employer_name,
            "post_title": data.post_title,
            "post_kind": post_kind,
            "start_on": data.start_on,
            "planned_end_on": data.planned_end_on,
            "flags": [f.as_dict() for f in flags],
        }
    )
    canonical = data.model_dump(mode="json") | {
        "flags": [f.as_dict() for f in flags],
        "policy_version": policy.version,
    }
    ctx.emit(
        ctx.topics.outbound("internship"),
        ctx.derive(event, type="internship.started", data=canonical),
    )
    # A completion or termination that arrived first can now be applied (or, when another
    # student sent it, refused: in either order).
    pending.release(ctx, pending.waiting_for_internship(data.internship_id))


def _existing(event: CloudEvent, internship_id: str, ctx: HandlerContext) -> Any:
    """The internship a completion/termination refers to; None when it was held or refused."""
    row = ctx.state.internships.get(internship_id)
    if row is None:
        pending.hold(ctx, event, pending.waiting_for_internship(internship_id))
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


def internship_completed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, InternshipCompleted)
    row = _existing(event, data.internship_id, ctx)
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
    if row["status"] == "cancelled":
        ctx.reject(event, [Reason("DATA_INVALID", "the internship was cancelled", "internship_id")])
        return
    student = known_students.get(ctx, event.subject or "")
    policy = ctx.policy_book.for_student(
        student.school_id if student else event.schoolid,
        student.cohort if student else None,
        row["start_on"],
    )
    breaches = check_recorded_hours(row["start_on"], data.end_on, data.hours, policy)
    if rejecting := [b for b in breaches if b.severity == "reject"]:
        ctx.reject(event, [Reason(b.code, b.message, b.field) for b in rejecting])
        return
    flags = [b.as_dict() for b in breaches]
    ctx.state.internships.update(
        row,
        status="completed",
        end_on=data.end_on,
        hours=data.hours,
        evaluation=data.evaluation,
        # Closed at last: an earlier expiry no longer stands (CLOSED_FLAGS).
        flags=[f for f in row["flags"] if f["code"] not in CLOSED_FLAGS] + flags,
    )
    canonical = data.model_dump(mode="json") | {"kind": row["kind"], "flags": flags}
    ctx.emit(
        ctx.topics.outbound("internship"),
        ctx.derive(event, type="internship.completed", data=canonical),
    )


def internship_terminated(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, InternshipTerminated)
    row = _existing(event, data.internship_id, ctx)
    if row is None:
        return
    ctx.state.internships.update(
        row,
        status="terminated",
        end_on=data.on,
        flags=[f for f in row["flags"] if f["code"] != "INT_EXPIRED"],
    )
    canonical = data.model_dump(mode="json") | {"kind": row["kind"]}
    ctx.emit(
        ctx.topics.outbound("internship"),
        ctx.derive(event, type="internship.terminated", data=canonical),
    )


def internship_cancelled(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """A submission withdrawn by the school: an active internship ends without counting; a
    submission the service never accepted (rejected, or not arrived yet) is recorded as
    withdrawn, so a rejection no longer holds the student's INTERNSHIP requirement open."""
    assert isinstance(data, InternshipCancelled) and event.subject
    state: InternshipState = ctx.state
    row = state.internships.get(data.internship_id)
    earlier = state.cancellations.get(data.internship_id)
    if (row is not None and row["student_id"] != event.subject) or (
        earlier is not None and earlier["student_id"] != event.subject
    ):
        ctx.reject(
            event,
            [
                Reason(
                    "DATA_INVALID",
                    f"internship {data.internship_id} belongs to another student",
                    "internship_id",
                )
            ],
        )
        return
    if row is not None and row["status"] in ("completed", "terminated"):
        ctx.reject(
            event,
            [
                Reason(
                    "DATA_INVALID",
                    f"internship {data.internship_id} is already {row['status']}: "
                    "only a submission still active can be withdrawn",
                    "internship_id",
                )
            ],
        )
        return
    state.cancellations.put(
        {
            "internship_id": data.internship_id,
            "student_id": event.subject,
            "on_date": data.on,
            "reason": data.reason,
        }
    )
    if row is not None:
        state.internships.update(row, status="cancelled", end_on=data.on)
    canonical = data.model_dump(mode="json") | {"kind": row["kind"] if row else None}
    ctx.emit(
        ctx.topics.outbound("internship"),
        ctx.derive(event, type="internship.cancelled", data=canonical),
    )


def internship_expired(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """A clock event (clock.py): the internship is still active longer after its planned
    end than the policy allows. It stops being a running placement, and the school hears
    of it as a flag on `internship.expired`."""
    assert isinstance(data, InternshipExpired) and event.subject
    state: InternshipState = ctx.state
    row = state.internships.get(data.internship_id)
    if row is None or row["status"] != "active" or row["student_id"] != event.subject:
        return  # closed (or withdrawn) since the job listed it
    student = known_students.get(ctx, event.subject)
    policy = ctx.policy_book.for_student(
        student.school_id if student else event.schoolid,
        student.cohort if student else None,
        row["start_on"],
    )
    overdue = (data.on - row["planned_end_on"]).days
    if overdue <= policy.internships.expire_active_after_days:
        return  # this student's policy allows longer
    flag = {
        "code": "INT_EXPIRED",
        "message": f"still active {overdue} days after its planned end {row['planned_end_on']}:"
        " send its completion, termination or withdrawal",
        "field": "planned_end_on",
        "severity": "flag",
    }
    state.internships.update(row, status="expired", flags=[*row["flags"], flag])
    canonical = data.model_dump(mode="json") | {"kind": row["kind"], "flags": [flag]}
    ctx.emit(
        ctx.topics.outbound("internship"),
        ctx.derive(event, type="internship.expired", data=canonical),
    )


CLOCK: dict[str, Handler] = {"internship.expired": internship_expired}

INBOUND: dict[str, Handler] = {
    "internship.cancelled": internship_cancelled,
    "internship.started": internship_started,
    "internship.completed": internship_completed,
    "internship.terminated": internship_terminated,
}
ENROLLMENT = known_students.enrollment_routes(INBOUND)
