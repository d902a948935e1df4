"""Submissions whose checks need a fact not known yet (SPEC §4.3): held in the service's
`pending` table, announced (`submission.held` / `submission.released` on the service's
outbound topic, so the gateway can show them in the student's status), and run again when
the fact they wait for arrives — in the same fold, under the same student lock, so a
release can never miss a hold (the lost wake-up of two unserialised transactions).

A hold is announced only once it has waited `held_notice_after` seconds (`announce_waiting`,
run periodically by each service): most holds end within seconds, when the enrollment they
wait for comes through, and then neither notice is sent. A release is announced only for a
hold that was.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.db.pool import connection
from sanzheng_shared.engine.locks import lock, student_key
from sanzheng_shared.engine.table import Row
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.logging import get_logger
from sanzheng_shared.outbox import write_outbox

log = get_logger(__name__)

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
    at_once = ctx.held_notice_after <= 0
    ctx.state.pending.put(
        {
            "seq": None,
            "student_id": event.subject,
            "topic": ctx.topic,
            "event": event.model_dump(mode="json"),
            "waiting_for": waiting_for,
            "announced": at_once,
        }
    )
    if at_once:
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
    rows = (
        table.of_student(student_id) if student_id is not None else table.find("waiting_for", fact)
    )
    waiting = sorted((r for r in rows if r["waiting_for"] == fact), key=_held_order)
    assert ctx.dispatch is not None
    topic, rejected = ctx.topic, ctx.rejected
    for row in waiting:
        table.delete(row["seq"])
        event = CloudEvent.model_validate(row["event"])
        # It was validated before it was held (and PostgreSQL's jsonb, which held it, takes
        # no NUL character or lone surrogate either): nothing in it to look for again.
        event._storable = True
        ctx.topic = row["topic"]
        if row["announced"]:
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


ANNOUNCE_AT_MOST = 500
"""holds announced per transaction (a backlog takes several)"""


async def announce_waiting(
    conn: Any,
    service: str,
    schema: str,
    topics: TopicNames,
    older_than: timedelta,
    *,
    limit: int = ANNOUNCE_AT_MOST,
) -> int:
    """Announce the holds that have waited longer than `older_than` and were not announced
    yet, in one transaction under the students' locks (the batches' own lock: a release
    either ran before, and the row is gone, or runs after and announces its release).
    Returns how many were announced. `conn` has the service's schema first on its path."""
    async with conn.transaction():
        waiting = await conn.fetch(
            "SELECT seq, student_id FROM pending"
            " WHERE NOT announced AND received_at < now() - $1::interval ORDER BY seq LIMIT $2",
            older_than,
            limit,
        )
        if not waiting:
            return 0
        await lock(conn, [student_key(s) for s in {r["student_id"] for r in waiting}])
        rows = await conn.fetch(
            "UPDATE pending SET announced = true WHERE seq = ANY($1::bigint[]) AND NOT announced"
            " RETURNING seq, topic, event, waiting_for, received_at",
            [r["seq"] for r in waiting],
        )
        ctx = HandlerContext(service, topics, None)
        for row in sorted(rows, key=lambda r: r["seq"]):
            event = CloudEvent.model_validate_json(row["event"])  # jsonb arrives as text
            # The notice says when the submission was held, not when it was announced.
            ctx.begin(row["topic"], int(row["received_at"].timestamp() * 1000))
            announce(ctx, event, "held", row["waiting_for"])
        await write_outbox(conn, schema, ctx.emitted)
        return len(rows)


async def announce_periodically(
    service: str, schema: str, pool: Any, topics: TopicNames, after_seconds: float
) -> None:
    """Run by each service process: every half of `after_seconds` (every 5 s when holds
    are announced at once, for those left unannounced by a run with a delay or a replay)."""
    older_than = timedelta(seconds=after_seconds)
    while True:
        await asyncio.sleep(max(0.5, after_seconds / 2) if after_seconds > 0 else 5.0)
        try:
            async with connection(pool) as conn:
                while (
                    await announce_waiting(conn, service, schema, topics, older_than)
                    == ANNOUNCE_AT_MOST
                ):
                    pass
        except Exception as exc:  # the next round tries again; consuming goes on meanwhile
            log.warning("held_notices_failed", error=repr(exc))
