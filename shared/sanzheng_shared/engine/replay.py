"""`sanzheng replay SERVICE`: drop a service's projection (or one school's or student's
part of it) and fold the service's event log over empty state, as the live consumer did.

The log keeps the live batches (`batch_id`), so the replay decides at the same points as
the live run and derives the same ids: what it emits again is dropped downstream as a
duplicate, unless a changed policy changed it. One transaction: a replay that fails
leaves the projection as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.engine import eventlog
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.policy import PolicyBook


@dataclass(frozen=True)
class ReplayResult:
    events: int
    batches: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _scope(school: str | None, student: str | None) -> tuple[str, list[Any]]:
    """The log rows to fold again, and so the students whose rows are cleared first."""
    if student is not None:
        return "student_id = $1", [student]
    if school is not None:
        # Every event about the school's students, whoever sent it.
        return (
            "student_id IN (SELECT student_id FROM event_log WHERE school_id = $1)",
            [school],
        )
    return "true", []


async def replay(
    conn: Any,
    spec: Any,
    *,
    topics: TopicNames,
    policies: PolicyBook,
    school: str | None = None,
    student: str | None = None,
    emit: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """`spec` is the service's ServiceSpec; `on_progress(done, total)` after each batch."""
    processor = BatchProcessor(
        service=spec.name,
        schema=spec.schema,
        pool=None,
        routes=spec.all_routes(topics),
        topics=topics,
        policies=policies,
        state=spec.state,
        # Holds are folded unannounced; those announced before are marked so again below.
        held_notice_after=1.0,
    )
    where, args = _scope(school, student)
    started = time.perf_counter()
    done = batches = 0
    async with conn.transaction():
        # Two replays of one service at once would fold into each other's state.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"replay:{spec.schema}")
        total = await eventlog.count(conn, where, args)
        announced = await conn.fetch(
            "SELECT event->>'source' AS source, event->>'id' AS id, waiting_for FROM pending"
            " WHERE announced"
        )
        await _clear(conn, spec.state(), where, args, everything=school is None and student is None)
        async for batch in eventlog.batches(conn, where, args):
            await processor._apply(conn, batch, {}, replay=True, emit=emit)
            done += len(batch)
            batches += 1
            if on_progress is not None:
                on_progress(done, total)
        await _announced_again(conn, announced)
    return ReplayResult(done, batches, time.perf_counter() - started)


async def _announced_again(conn: Any, announced: list[Any]) -> None:
    """A hold the gateway was told of stays announced, so its release is announced too; one
    it was not told of is left to the service's sweep (pending.announce_waiting)."""
    if announced:
        await conn.execute(
            "UPDATE pending p SET announced = true"
            " FROM unnest($1::text[], $2::text[], $3::text[]) AS a(source, id, waiting_for)"
            " WHERE NOT p.announced AND p.event->>'source' = a.source"
            " AND p.event->>'id' = a.id AND p.waiting_for = a.waiting_for",
            [r["source"] for r in announced],
            [r["id"] for r in announced],
            [r["waiting_for"] for r in announced],
        )


async def _clear(conn: Any, state: Any, where: str, args: list[Any], *, everything: bool) -> None:
    for table in state.tables():
        if everything:
            await conn.execute(f"TRUNCATE {table.name}")
        elif table.student is not None:
            await conn.execute(
                f"DELETE FROM {table.name} WHERE {table.student} IN"
                f" (SELECT student_id FROM event_log WHERE {where})",
                *args,
            )
