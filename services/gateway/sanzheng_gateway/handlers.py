"""Handlers of the gateway's projection (outbound topics in, read model out)."""

from __future__ import annotations

from typing import Any

from sanzheng_gateway import states
from sanzheng_gateway.projection import (
    STATUS_BY_EVENT,
    GatewayState,
    last_four,
    parse_time,
    timeline_data,
)
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import EventData
from sanzheng_shared.events.envelope import CloudEvent


def _event_row(event: CloudEvent, data: Any) -> dict[str, Any]:
    """An event as a row of the timeline or of the warning feed (the same columns)."""
    return {
        "event_id": event.id,
        "student_id": event.subject,
        "school_id": event.schoolid,
        "type": event.type,
        "time": event.time,
        "data": data,
    }


def timeline_only(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    state: GatewayState = ctx.state
    if state.other_school(event.subject, event.schoolid):
        return
    state.timeline.put(_event_row(event, timeline_data(event.data)))


def student_enrolled(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    state: GatewayState = ctx.state
    d = event.data or {}
    if state.other_school(event.subject, event.schoolid):
        return
    old = state.students.get(event.subject) or {}
    state.students.put(
        old
        | {
            "student_id": event.subject,
            # The enrolling school keeps its student: a later event never moves it.
            "school_id": old.get("school_id") or event.schoolid,
            "name": d["name"],
            "class_id": d["class_id"],
            "cohort": d["cohort"],
            "major_code": d.get("major_code"),
            "major_name": d.get("major_name"),
            "birth_date": d.get("birth_date"),
            "enrolled_on": d.get("enrolled_on"),
            "national_id_masked": last_four(d.get("national_id_masked"))
            or old.get("national_id_masked"),
            "status": old.get("status", "enrolled"),
        }
    )
    timeline_only(event, _data, ctx)


def student_status(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    state: GatewayState = ctx.state
    row = state.students.get(event.subject)
    if row is None or row["school_id"] != event.schoolid:
        return
    state.students.update(row, status=STATUS_BY_EVENT[event.type])
    timeline_only(event, _data, ctx)


def student_transferred(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    state: GatewayState = ctx.state
    d = event.data or {}
    row = state.students.get(event.subject)
    decision = state.decisions.get(event.subject)
    if decision is not None:  # the new school's decisions follow
        state.decisions.update(decision, school_id=d["to_school_id"])
    if row is not None:
        state.students.update(
            row,
            school_id=d["to_school_id"],
            class_id=d["to_class_id"],
            major_code=d.get("to_major_code") or row["major_code"],
            major_name=d.get("to_major_name") or row["major_name"],
        )
    timeline_only(event, _data, ctx)


def eligibility_changed(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    state: GatewayState = ctx.state
    d = event.data or {}
    if state.other_school(event.subject, event.schoolid):
        return
    decided_at = parse_time(d["decided_at"])
    row = {
        "student_id": event.subject,
        "eligible": d["eligible"],
        "requirements": d["requirements"],
        "policy_version": d["policy_version"],
        "decided_at": decided_at,
    }
    state.decision_history.put(row | {"event_id": event.id})
    current = state.decisions.get(event.subject)
    # Keep the latest decision, whatever order decisions arrive in, and its school.
    if current is not None and current["school_id"] not in (None, event.schoolid):
        return
    if current is None or current["decided_at"] <= decided_at:
        state.decisions.put(
            row
            | {
                "school_id": event.schoolid,
                "missing": [r["code"] for r in d["requirements"] if not r["met"]],
                **states.summary(d["requirements"]),
            }
        )


def submission_held(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    state: GatewayState = ctx.state
    d = event.data or {}
    state.held_submissions.put(
        {
            "source": d["source"],
            "id": d["id"],
            "student_id": event.subject,
            "school_id": event.schoolid,
            "type": d["type"],
            "waiting_for": d["waiting_for"],
            "held_by": event.source.removeprefix("sanzheng/"),
            # the broker time of the hold (a derived event's time; the same in a replay)
            "held_since": event.time.isoformat() if event.time else None,
        }
    )


def submission_released(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    d = event.data or {}
    ctx.state.held_submissions.delete(d["source"], d["id"])


PENDING: dict[str, Handler] = {
    "submission.held": submission_held,
    "submission.released": submission_released,
}
ENROLLMENT: dict[str, Handler] = {
    "student.enrolled": student_enrolled,
    "student.suspended": student_status,
    "student.resumed": student_status,
    "student.withdrawn": student_status,
    "student.graduated": student_status,
    "student.repeated_year": timeline_only,
    "enrollment.conflict": timeline_only,
    "student.transferred": student_transferred,
    **PENDING,
}
INTERNSHIP: dict[str, Handler] = {
    **dict.fromkeys(
        (
            "internship.started",
            "internship.completed",
            "internship.terminated",
            "internship.cancelled",
            "internship.expired",
        ),
        timeline_only,
    ),
    **PENDING,
}
LABOR: dict[str, Handler] = {
    **dict.fromkeys(("labor_education.completed", "labor_education.exempted"), timeline_only),
    **PENDING,
}
# Waivers are folded from their timeline rows too (waivers.listed).
CERTIFICATES: dict[str, Handler] = {
    t: timeline_only
    for t in (
        "certificate.earned",
        "certificate.revoked",
        "requirement.waived",
        "requirement.waiver_revoked",
    )
} | PENDING  # diplomas held until the student is eligible
# The learning account is folded from these timeline rows (queries.learning_account).
CREDITS: dict[str, Handler] = {
    **dict.fromkeys(("course.completed", "credit.recognized", "credit.revoked"), timeline_only),
    **PENDING,
}


def _to_feed(event: CloudEvent, state: GatewayState) -> None:
    """Every warning and its clearing, for the school's feed (a school follows it)."""
    state.warning_feed.put(_event_row(event, event.data or {}))


def student_at_risk(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    state: GatewayState = ctx.state
    d = event.data or {}
    if state.other_school(event.subject, event.schoolid):
        return
    _to_feed(event, state)
    state.warnings.put(
        {
            "student_id": event.subject,
            "requirement": d["requirement"],
            "school_id": event.schoolid,
            "state": d["state"],
            "due_on": d.get("due_on"),
            "detail": d["detail"],
            "since": event.time,
            "event_id": event.id,
        }
    )


def risk_cleared(event: CloudEvent, _data: EventData, ctx: HandlerContext) -> None:
    state: GatewayState = ctx.state
    if state.other_school(event.subject, event.schoolid):
        return
    _to_feed(event, state)
    state.warnings.delete(event.subject, (event.data or {})["requirement"])


GRADUATION: dict[str, Handler] = {
    "graduation.eligibility_changed": eligibility_changed,
    "student.at_risk": student_at_risk,
    "student.risk_cleared": risk_cleared,
}
