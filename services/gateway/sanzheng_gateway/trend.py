"""The eligible share of each cohort of a school over time, from the decision history the
gateway keeps (every `graduation.eligibility_changed` it applied): at the end of each month,
how many of the cohort's students were eligible by their latest decision until then.

The denominator is the cohort's students as the read model knows them today, so the last
point of each line equals today's count of eligible students in that cohort."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sanzheng_gateway.queries import LOCAL

_HISTORY = """
SELECT h.student_id, s.cohort, h.eligible, h.decided_at
FROM decision_history h JOIN students s USING (student_id)
WHERE s.school_id = $1
ORDER BY h.decided_at, h.event_id
"""


@dataclass(frozen=True)
class Point:
    month: str  # YYYY-MM: the state at the end of that month (today for the current one)
    eligible: int
    of: int

    @property
    def share(self) -> float:
        return self.eligible / self.of if self.of else 0.0


def _month_end(day: date) -> date:
    first_of_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_of_next - timedelta(days=1)


def shares(
    decisions: list[tuple[str, int, bool, datetime]],
    cohort_sizes: dict[int, int],
    today: date,
) -> dict[int, list[Point]]:
    """Pure: `decisions` are (student, cohort, eligible, decided_at) in time order."""
    if not decisions:
        return {}
    months: list[date] = []
    end = _month_end(decisions[0][3].astimezone(LOCAL).date())
    while end < _month_end(today):
        months.append(end)
        end = _month_end(end + timedelta(days=1))
    months.append(today)
    latest: dict[str, tuple[int, bool]] = {}
    lines: dict[int, list[Point]] = {c: [] for c in sorted(cohort_sizes)}
    i = 0
    for month_end in months:
        while i < len(decisions) and decisions[i][3].astimezone(LOCAL).date() <= month_end:
            student, cohort, eligible, _ = decisions[i]
            latest[student] = (cohort, eligible)
            i += 1
        for cohort, points in lines.items():
            count = sum(1 for c, ok in latest.values() if c == cohort and ok)
            points.append(Point(month_end.strftime("%Y-%m"), count, cohort_sizes[cohort]))
    return lines


async def load(conn: Any, school_id: str, today: date) -> dict[int, list[Point]]:
    rows = await conn.fetch(_HISTORY, school_id)
    sizes = await conn.fetch(
        "SELECT cohort, count(*) AS n FROM students WHERE school_id = $1 GROUP BY 1", school_id
    )
    return shares(
        [(r["student_id"], r["cohort"], r["eligible"], r["decided_at"]) for r in rows],
        {r["cohort"]: r["n"] for r in sizes},
        today,
    )
