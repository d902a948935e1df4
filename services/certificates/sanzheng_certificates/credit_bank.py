"""The credit bank's facts (SPEC §2.6) as the certificates service keeps them for ACADEMIC:
the credits service's canonical events on `credits.events`, taken as facts like the other
services' outbound events. Each is stored under its canonical id, which a better retake's
`replaces` and a revocation's `revokes` name."""

from __future__ import annotations

from typing import Any

from sanzheng_certificates.projection import CertificatesState
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import CourseCompleted, CreditRecognized
from sanzheng_shared.events.envelope import CloudEvent


def course_completed(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CourseCompleted) and event.subject and isinstance(event.data, dict)
    state: CertificatesState = ctx.state
    state.courses.put(
        {
            "event_id": event.id,
            "student_id": event.subject,
            "course_code": data.course_code,
            "category": data.category,
            "class_hours": data.class_hours,
            "practice_hours": data.practice_hours,
            "credits": data.credits,
            "passed": bool(data.passed),
            # A retake that is not better is recorded, not counted (CRS_DUPLICATE).
            "counted": bool(event.data.get("counted", True)),
            "replaces": event.data.get("replaces"),
        }
    )
    ctx.touch(event)


def credit_recognized(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, CreditRecognized) and event.subject
    state: CertificatesState = ctx.state
    state.credit_recognitions.put(
        {
            "event_id": event.id,
            "student_id": event.subject,
            "recognition_id": data.recognition_id,
            "category": data.category,
            "credits": data.credits,
        }
    )
    ctx.touch(event)


def credit_revoked(event: CloudEvent, _data: Any, ctx: HandlerContext) -> None:
    assert event.subject and isinstance(event.data, dict)
    revokes = event.data.get("revokes")
    if not revokes:  # only the credits service's canonical revocation names its credit
        return
    state: CertificatesState = ctx.state
    state.credit_revocations.put(
        {"event_id": event.id, "student_id": event.subject, "revokes": revokes}
    )
    ctx.touch(event)


ROUTES: dict[str, Handler] = {
    "course.completed": course_completed,
    "credit.recognized": credit_recognized,
    "credit.revoked": credit_revoked,
}
