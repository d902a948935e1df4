"""A submission held twice (for its student, then for its June or its eligibility) is
announced three times, and each notice has its own id: a consumer that de-duplicates by id
(the gateway's inbox) must not take the second hold for a redelivery of the first."""

from __future__ import annotations

import json

from sanzheng_shared import pending
from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.testing import cloudevent

ELIGIBILITY = "graduation.eligibility_changed"


def _notices(ctx: HandlerContext) -> list[dict]:
    return [json.loads(m.value) for m in ctx.emitted]


def test_each_hold_and_release_of_one_submission_has_its_own_id() -> None:
    diploma = CloudEvent.model_validate(
        cloudevent("certificate.earned", "STU-1", {"certificate_no": "D-1", "kind": "diploma"})
    )

    def held_again(event: CloudEvent, _topic: str, ctx: HandlerContext) -> None:
        pending.hold(ctx, event, ELIGIBILITY)  # the student is known now, not eligible yet

    ctx = HandlerContext("certificates", TopicNames(""), ProjectionState(), dispatch=held_again)
    ctx.begin("sis.certificates", 1_780_000_000_000)
    pending.hold(ctx, diploma, pending.STUDENT)
    pending.release(ctx, pending.STUDENT, student_id="STU-1")

    notices = _notices(ctx)
    assert [(n["type"], n["data"].get("waiting_for")) for n in notices] == [
        ("submission.held", pending.STUDENT),
        ("submission.released", pending.STUDENT),
        ("submission.held", ELIGIBILITY),
    ]
    assert len({n["id"] for n in notices}) == 3
    # A replay derives the same ids.
    again = HandlerContext("certificates", TopicNames(""), ProjectionState(), dispatch=held_again)
    again.begin("sis.certificates", 1_780_000_000_000)
    pending.hold(again, diploma, pending.STUDENT)
    pending.release(again, pending.STUDENT, student_id="STU-1")
    assert [n["id"] for n in _notices(again)] == [n["id"] for n in notices]
