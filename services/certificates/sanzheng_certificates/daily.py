"""The daily evaluation (SPEC §2.5): states move with the date, not only with the facts,
so once a day the certificates service decides again every student whose states may
change (one with an unmet requirement, or a waiver that may expire) on that day, and
announces what changed: a new decision, `student.at_risk` / `student.risk_cleared`.

It is a clock job (sanzheng_shared.clock): from 01:00 (Asia/Shanghai) the service lists
those students and folds a `graduation.daily_evaluation` clock event for each through the
same batch engine as the broker's records. So each student is locked like any batch (a
consumer batch about the same student waits, never interleaves); the evaluation lands in
the event log (a replay makes the same decisions); and each student's event of the day
has one id, so a second replica, or the hourly retry of a run that died partway, applies
it once. When every student of the day is folded, a row in `daily_evaluations` says so,
and the later rounds of that day list nobody.

The clock is a parameter: the runtime runs today's; tests run any day.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sanzheng_shared import clock
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.catalogue import DailyEvaluation
from sanzheng_shared.events.envelope import CloudEvent

TYPE = "graduation.daily_evaluation"
RUN_AT = time(1, 0)  # Asia/Shanghai: after midnight, before the school day


async def due(conn: Any, day: date, _policies: Any) -> list[CloudEvent]:
    """One clock event per student whose states may change on `day`; none once the day
    is done."""
    finished = await conn.fetchval(
        "SELECT 1 FROM daily_evaluations WHERE day = $1 AND finished_at IS NOT NULL", day
    )
    if finished:
        return []
    rows = await conn.fetch(
        "SELECT student_id, min(school_id) AS school_id FROM ("
        " SELECT student_id, school_id FROM decisions WHERE NOT eligible"
        " UNION ALL SELECT student_id, school_id FROM waivers) s"
        " GROUP BY student_id ORDER BY student_id"
    )
    return [
        clock.tick(
            TYPE,
            r["student_id"],
            r["school_id"],
            r["student_id"],
            day,
            {"on": day.isoformat()},
            at=RUN_AT,
        )
        for r in rows
    ]


async def done(conn: Any, day: date, students: int, applied: int) -> None:
    await conn.execute(
        "INSERT INTO daily_evaluations (day, finished_at, students, applied)"
        " VALUES ($1, now(), $2, $3) ON CONFLICT (day) DO UPDATE"
        " SET finished_at = now(), students = $2,"
        " applied = coalesce(daily_evaluations.applied, 0) + $3",
        day,
        students,
        applied,
    )


def evaluate_student(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """Decide the student again on the event's day (the decision is dated by it)."""
    assert isinstance(data, DailyEvaluation) and event.subject
    ctx.touch(event)


CLOCK: dict[str, Handler] = {TYPE: evaluate_student}

JOB = clock.ClockJob(handlers=CLOCK, due=due, day_starts_at=RUN_AT, done=done)
