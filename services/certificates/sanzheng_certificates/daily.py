"""The daily evaluation (SPEC §2.5): states move with the date, not only with the facts,
so once a day the certificates service decides again every student whose states may
change (one with an unmet requirement, or a waiver that may expire) on that day, and
announces what changed: a new decision, `student.at_risk` / `student.risk_cleared`.

Once per day across replicas: the first replica to insert the day's row in
`daily_evaluations` runs it, the others find the row and do nothing. The students are
decided in chunks, each in one transaction with the students locked like a batch (load,
decide, save, outbox), so a consumer batch about the same student waits, never
interleaves. A replica that dies mid-run leaves the day's row without `finished_at`; the
students it had not reached are decided at their next event or the next day.

The clock is a parameter: the runtime passes the wall clock; tests pass any day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sanzheng_certificates.decisions import SCHOOL_TIME
from sanzheng_certificates.projection import CertificatesState
from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.engine.locks import lock, student_key
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.logging import get_logger
from sanzheng_shared.outbox import write_outbox
from sanzheng_shared.policy import PolicyBook

log = get_logger(__name__)
CHUNK = 500
RUN_AT = time(1, 0)  # Asia/Shanghai: after midnight, before the school day
CHECK_EVERY_SECONDS = 300.0


def school_now() -> datetime:
    return datetime.now(SCHOOL_TIME)


async def _claim(conn: Any, day: date) -> bool:
    claimed = await conn.fetchval(
        "INSERT INTO daily_evaluations (day) VALUES ($1) ON CONFLICT DO NOTHING RETURNING day",
        day,
    )
    return claimed is not None


async def _students(conn: Any) -> list[str]:
    rows = await conn.fetch(
        "SELECT student_id FROM decisions WHERE NOT eligible"
        " UNION SELECT student_id FROM waivers ORDER BY 1"
    )
    return [r["student_id"] for r in rows]


def _cause(student: str, school: str | None, at: datetime) -> CloudEvent:
    """What the decision says caused it: the day's evaluation (its id names the day)."""
    return CloudEvent.model_validate(
        {
            "specversion": "1.0",
            "id": f"daily-evaluation:{at.astimezone(SCHOOL_TIME).date().isoformat()}",
            "source": "sanzheng/certificates",
            "type": "graduation.daily_evaluation",
            "time": at,
            "subject": student,
            "schoolid": school,
        }
    )


async def _decide(
    conn: Any, students: list[str], at: datetime, *, topics: TopicNames, policies: PolicyBook
) -> int:
    state = CertificatesState()
    await lock(conn, [student_key(s) for s in students])
    await state.load(conn, students, [])
    ctx = HandlerContext("certificates", topics, state, policies)
    stamp = int(at.timestamp() * 1000)
    for student in students:
        known = state.known.get(student) if state.known is not None else None
        decision = state.decisions.get(student) or {}
        school = (known or {}).get("school_id") or decision.get("school_id")
        ctx.touched[student] = stamp
        ctx.causes[student] = _cause(student, school, at)
    state.finish(ctx)
    await state.save(conn)
    await write_outbox(conn, "certificates", ctx.emitted)
    return len(ctx.emitted)


async def evaluate(pool: Any, day: date, *, topics: TopicNames, policies: PolicyBook) -> int | None:
    """Decide again, as of `day` (its RUN_AT, Asia/Shanghai), every student whose states
    may change; the number of events announced, or None when the day was done already."""
    at = datetime.combine(day, RUN_AT, SCHOOL_TIME).astimezone(UTC)
    async with pool.acquire() as conn:
        async with conn.transaction():
            if not await _claim(conn, day):
                return None
            students = await _students(conn)
        announced = 0
        for start in range(0, len(students), CHUNK):
            async with conn.transaction():
                chunk = students[start : start + CHUNK]
                announced += await _decide(conn, chunk, at, topics=topics, policies=policies)
        await conn.execute(
            "UPDATE daily_evaluations SET finished_at = now(), students = $2,"
            " announced = $3 WHERE day = $1",
            day,
            len(students),
            announced,
        )
    log.info("daily_evaluation", day=day.isoformat(), students=len(students), announced=announced)
    return announced


async def run_daily(
    pool: Any,
    *,
    topics: TopicNames,
    policies: PolicyBook,
    clock: Callable[[], datetime] = school_now,
    every: float = CHECK_EVERY_SECONDS,
) -> None:
    """The scheduler inside the service process: every few minutes, once the day's RUN_AT
    has passed, evaluate the day (the guard makes every later check, and every other
    replica, a no-op)."""
    while True:
        now = clock().astimezone(SCHOOL_TIME)
        day = now.date() if now.time() >= RUN_AT else now.date() - timedelta(days=1)
        try:
            await evaluate(pool, day, topics=topics, policies=policies)
        except Exception:  # a database outage: the next check tries again
            log.exception("daily_evaluation_failed", day=day.isoformat())
        await asyncio.sleep(every)
