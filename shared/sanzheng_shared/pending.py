"""Submissions whose checks need a fact not known yet (SPEC §4.3): held in the service's
`pending` table, announced (`submission.held` / `submission.released` on the service's
outbound topic, so the gateway can show them in the student's status), and replayed when
the fact they wait for arrives."""

from __future__ import annotations

import json

from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import EventData
from sanzheng_shared.events.envelope import CloudEvent, InvalidData, validate_data

STUDENT = "student.enrolled"


def waiting_for_internship(internship_id: str) -> str:
    return f"internship.started {internship_id}"


def _announce(ctx: HandlerContext, event: CloudEvent, kind: str, **extra: str) -> None:
    data = {"source": event.source, "id": event.id, "type": event.type, **extra}
    ctx.emit(
        ctx.topics.outbound(ctx.service),
        ctx.derive(event, type=f"submission.{kind}", data=data, purpose=kind),
    )


async def hold(ctx: HandlerContext, event: CloudEvent, waiting_for: str) -> None:
    await ctx.conn.execute(
        "INSERT INTO pending (student_id, topic, event, waiting_for) VALUES ($1, $2, $3, $4)",
        event.subject,
        ctx.topic,
        event.model_dump_json(),
        waiting_for,
    )
    _announce(ctx, event, "held", waiting_for=waiting_for)


async def replay(
    ctx: HandlerContext, student_id: str, fact: str, handlers: dict[str, Handler]
) -> int:
    """Run the student's submissions that waited for `fact` through their handlers, oldest
    first (each waits for one fact, so it is never held twice for the same one)."""
    rows = await ctx.conn.fetch(
        "DELETE FROM pending WHERE student_id = $1 AND waiting_for = $2"
        " RETURNING seq, topic, event",
        student_id,
        fact,
    )
    for row in sorted(rows, key=lambda r: r["seq"]):
        event = CloudEvent.model_validate(json.loads(row["event"]))
        sub = HandlerContext(
            ctx.conn,
            ctx.service,
            ctx.topics,
            row["topic"],
            ctx.partition,
            ctx.offset,
            ctx.policies,
            emitted=ctx.emitted,
        )
        _announce(sub, event, "released")
        try:
            data = validate_data(event)
        except InvalidData as exc:  # it was valid when held; kept for safety
            sub.reject(event, exc.reasons)
            continue
        await handlers[event.type](event, data, sub)
    return len(rows)


async def _ignore(_event: CloudEvent, _data: EventData, _ctx: HandlerContext) -> None:
    """Other services' held/released notices concern only the gateway."""


IGNORED: dict[str, Handler] = {"submission.held": _ignore, "submission.released": _ignore}
