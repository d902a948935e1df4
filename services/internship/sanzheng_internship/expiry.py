"""Internships left `active` past their planned end (Art. 10 counts the interns an employer
has now; a placement nobody closed would count for ever). Once a day the service lists
those more than the policy's `expire_active_after_days` past their planned end and folds an
`internship.expired` clock event for each (sanzheng_shared.clock)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sanzheng_internship.handlers import CLOCK
from sanzheng_shared import clock
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.policy import PolicyBook


async def due(conn: Any, today: date, policies: PolicyBook | None) -> list[CloudEvent]:
    """Candidates by the most eager policy in the book; the handler applies each student's
    own (a day's event for one that is not due yet changes nothing)."""
    book = policies or PolicyBook.load(None)
    days = min(p.internships.expire_active_after_days for p in book.policies)
    rows = await conn.fetch(
        "SELECT internship_id, student_id, school_id, planned_end_on FROM internships"
        " WHERE status = 'active' AND planned_end_on < $1 ORDER BY student_id, internship_id",
        today - timedelta(days=days),
    )
    return [
        clock.tick(
            "internship.expired",
            r["student_id"],
            r["school_id"],
            r["internship_id"],
            today,
            {
                "internship_id": r["internship_id"],
                "on": today.isoformat(),
                "planned_end_on": r["planned_end_on"].isoformat(),
            },
        )
        for r in rows
    ]


JOB = clock.ClockJob(handlers=CLOCK, due=due)
