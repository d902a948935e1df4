"""Stale waits: submissions held in `pending` longer than the policy's limit (issue 9).

They are listed (`sanzheng pending list`), counted (`sanzheng_pending_stale`), and can be
expired by the operator (`sanzheng pending expire SERVICE`) into a rejection
`PENDING_EXPIRED`. The expiry goes through the engine: one transaction locks the students
(the batches' own lock, so a release cannot race it), loads their state, and folds the
expiry over it: `submission.released` and `submission.rejected` to the outbox, the rows
gone from `pending`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.engine.locks import lock, student_key
from sanzheng_shared.events.envelope import CloudEvent, Reason
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.metrics import PENDING_STALE
from sanzheng_shared.outbox import write_outbox
from sanzheng_shared.pending import announce
from sanzheng_shared.policy import PolicyBook


def limit(policies: PolicyBook | None = None, today: date | None = None) -> timedelta:
    """The limit of the general policy in force today (`pending.expire_after_days`, 30 by
    default)."""
    book = policies or PolicyBook.load(None)
    policy = book.for_student(None, None, today or date.today())
    return timedelta(days=policy.pending.expire_after_days)


async def stale(conn: Any, older_than: timedelta) -> list[Any]:
    """Held submissions received before now - `older_than`, oldest first."""
    return list(
        await conn.fetch(
            "SELECT seq, student_id, topic, waiting_for, received_at,"
            " event->>'type' AS type, event->>'source' AS source, event->>'id' AS id"
            " FROM pending WHERE received_at < now() - $1::interval ORDER BY seq",
            older_than,
        )
    )


async def report(conn: Any, service: str, older_than: timedelta) -> int:
    """Set `sanzheng_pending_stale{service}`; return the count."""
    count = int(
        await conn.fetchval(
            "SELECT count(*) FROM pending WHERE received_at < now() - $1::interval", older_than
        )
    )
    PENDING_STALE.labels(service).set(count)
    return count


async def expire(
    conn: Any, spec: Any, topics: TopicNames, older_than: timedelta, *, policies: Any = None
) -> list[Any]:
    """Expire the stale submissions of `spec`'s service in one transaction; return them.
    `conn` has the service's schema first on its search path."""
    async with conn.transaction():
        rows = await stale(conn, older_than)
        students = sorted({r["student_id"] for r in rows})
        if not students:
            return []
        await lock(conn, [student_key(s) for s in students])
        state = spec.state()
        await state.load(conn, students, [])
        ctx = HandlerContext(spec.name, topics, state, policies)
        chosen = {r["seq"] for r in rows}
        expired = []
        for row in rows:
            held = state.pending.get(row["seq"])
            if held is None or row["seq"] not in chosen:
                continue  # released by a batch between the listing and the lock
            state.pending.delete(row["seq"])
            event = CloudEvent.model_validate(held["event"])
            ctx.begin(held["topic"], None)
            if held["announced"]:
                announce(ctx, event, "released", held["waiting_for"])
            ctx.reject(
                event,
                [
                    Reason(
                        "PENDING_EXPIRED",
                        f"held since {row['received_at']:%Y-%m-%d} waiting for "
                        f"{row['waiting_for']}, which never arrived; expired by the operator."
                        " Send the missing fact, then this submission again.",
                    )
                ],
            )
            expired.append(row)
        await state.save(conn)
        await write_outbox(conn, spec.schema, ctx.emitted)
        return expired
