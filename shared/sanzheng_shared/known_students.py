"""A service's view of students it does not own, built from `enrollment.events`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sanzheng_shared import pending
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import EventData, StudentEnrolled
from sanzheng_shared.events.envelope import CloudEvent

STATUS_BY_EVENT = {
    "student.suspended": "suspended",
    "student.resumed": "enrolled",
    "student.withdrawn": "withdrawn",
    "student.graduated": "graduated",
}
# Events that change the lifecycle without changing the status.
LIFECYCLE_ONLY = ("student.repeated_year",)


@dataclass(frozen=True)
class KnownStudent:
    student_id: str
    school_id: str | None
    class_id: str
    cohort: int
    program_years: int
    birth_date: date
    status: str
    years_behind: int = 0
    expected_graduation: date | None = None
    sex: str | None = None


def get(ctx: HandlerContext, student_id: str) -> KnownStudent | None:
    row = ctx.state.known.get(student_id)
    return KnownStudent(**row) if row else None


def on_enrolled(ctx: HandlerContext, event: CloudEvent, data: StudentEnrolled) -> None:
    known = ctx.state.known
    old = known.get(event.subject)
    known.put(
        {
            "student_id": event.subject,
            # A student stays with the school that enrolled it (SPEC §2.1).
            "school_id": (old or {}).get("school_id") or event.schoolid,
            "class_id": data.class_id,
            "cohort": data.cohort,
            "program_years": data.program_years,
            "birth_date": data.birth_date,
            "status": (old or {}).get("status", "enrolled"),
            "years_behind": (old or {}).get("years_behind", 0),
            "expected_graduation": (old or {}).get("expected_graduation"),
            # Personal data: kept only where a rule needs it (the internship service).
            "sex": (event.data or {}).get("sex") if ctx.state.keeps_student_sex else None,
        }
    )


def on_status(ctx: HandlerContext, event: CloudEvent, _data: EventData) -> None:
    row = ctx.state.known.get(event.subject)
    if row is None:
        return
    d: dict[str, Any] = event.data or {}
    # The enrollment service puts the lifecycle's outcome on its canonical events.
    lifecycle = {
        k: date.fromisoformat(d[k]) if k == "expected_graduation" else d[k]
        for k in ("years_behind", "expected_graduation")
        if d.get(k) is not None
    }
    status = STATUS_BY_EVENT.get(event.type, row["status"])
    ctx.state.known.update(row, status=status, **lifecycle)


def on_transferred(ctx: HandlerContext, event: CloudEvent, _data: EventData) -> None:
    row = ctx.state.known.get(event.subject)
    data: dict[str, Any] = event.data or {}
    if row is not None:
        ctx.state.known.update(
            row,
            school_id=data.get("to_school_id") or row["school_id"],
            class_id=data.get("to_class_id") or row["class_id"],
        )


def enrollment_routes(inbound: dict[str, Handler]) -> dict[str, Handler]:
    """Routes for `enrollment.events` in a service that keeps known students: learn the
    student, then run what was held waiting for them through `inbound`."""

    def enrolled(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
        assert isinstance(data, StudentEnrolled) and event.subject
        on_enrolled(ctx, event, data)
        pending.release(ctx, pending.STUDENT, student_id=event.subject)

    def status(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
        on_status(ctx, event, data)

    def transferred(event: CloudEvent, data: EventData, ctx: HandlerContext) -> None:
        on_transferred(ctx, event, data)

    return {
        "student.enrolled": enrolled,
        **dict.fromkeys((*STATUS_BY_EVENT, *LIFECYCLE_ONLY), status),
        "student.transferred": transferred,
    }
