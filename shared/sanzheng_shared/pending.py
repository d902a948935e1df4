"""Submissions whose checks need a fact not known yet (SPEC §4.3): held in the service's
`pending` table, announced (`submission.held` / `submission.released` on the service's
outbound topic, so the gateway can show them in the student's status), and run again when
the fact they wait for arrives — in the same fold, under the same student lock, so a
release can never miss a hold (the lost wake-up of two unserialised transactions)."""

from __future__ import annotations

from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.engine.table import Row
from sanzheng_shared.events.envelope import CloudEvent

STUDENT = "student.enrolled"


def waiting_for_internship(internship_id: str) -> str:
    return f"internship.started {internship_id}"


def announce(ctx: HandlerContext, event: CloudEvent, kind: str, waiting_for: str) -> None:
    """`waiting_for` is the fact the submission waits (or waited) for. One submission may be
    held more than once (for its student, then for its June), so the notice's id derives
    from both: the second hold must not look like a redelivery of the first to the
    gateway's inbox."""
    data = {"source": event.source, "id": event.id, "type": event.type, "waiting_for": waiting_for}
    ctx.emit(
        ctx.topics.outbound(ctx.service),
        ctx.derive(event, type=f"submission.{kind}", data=data, purpose=f"{kind} {waiting_for}"),
    )


def hold(ctx: HandlerContext, event: CloudEvent, waiting_for: str) -> None:
    assert event.subject
    ctx.state.pending.put(
        {
            "seq": None,
            "student_id": event.subject,
            "topic": ctx.topic,
            "event": event.model_dump(mode="json"),
            "waiting_for": waiting_for,
        }
    )
    announce(ctx, event, "held", waiting_for)


def _held_order(row: Row) -> tuple[bool, int]:
    # Stored rows (positive seq) were held before this batch's (provisional, -1, -2, …).
    return (row["seq"] < 0, abs(row["seq"]))


class HeldEventFailed(Exception):
    """The handler of a released submission failed: that submission is at fault, not the
    event that released it (the batch dead-letters the held one and applies the rest)."""

    def __init__(self, key: tuple[str, str], reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason


def release(ctx: HandlerContext, fact: str, *, student_id: str | None = None) -> int:
    """Run the submissions that waited for `fact` again, oldest first: the student's, or
    (`student_id=None`) anyone's that the batch loaded."""
    table = ctx.state.pending
    rows = table.of_student(student_id) if student_id is not None else list(table)
    waiting = sorted((r for r in rows if r["waiting_for"] == fact), key=_held_order)
    assert ctx.dispatch is not None
    topic, rejected = ctx.topic, ctx.rejected
    for row in waiting:
        table.delete(row["seq"])
        event = CloudEvent.model_validate(row["event"])
        ctx.topic = row["topic"]
        announce(ctx, event, "released", fact)
        key = (event.source, event.id)
        if (reason := ctx.poisoned.get(key)) is not None:
            ctx.dead_letter_held(event, row["topic"], reason)
            continue
        try:
            ctx.dispatch(event, row["topic"], ctx)
        except HeldEventFailed:
            raise  # a submission it released in turn: that one is at fault
        except Exception as exc:
            raise HeldEventFailed(key, f"handler failed: {type(exc).__name__}: {exc}") from exc
    ctx.topic, ctx.rejected = topic, rejected
    return len(waiting)
