"""How urgent each requirement of a student is: its state (`met`, `on_track`, `at_risk`,
`overdue`), its due date and the days left, for the counselor's class page.

The graduation decision says the state and the due date of each requirement
(`{"code", "met", "detail", "state", "due_on"}`) once the certificates service writes them;
they win whenever present. For decisions without them (older ones, or before that service
writes them) the same rule is computed here from the cohort and the program's length:
the labor month is due by 30 June of the 2nd school year, the post internship by 31 May of
the final year, everything else by the expected graduation (30 June of the final year).
Pure: `today` is a parameter, so the rule is tested with plain dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

STATES = ("overdue", "at_risk", "on_track", "met")
# Within this many days of its due date an unmet requirement is at risk.
AT_RISK_DAYS = 45
# A student with no decision yet sorts after those at risk and before those on track:
# worth a look, but nothing is known to be late.
UNDECIDED_RANK = 1.5


@dataclass(frozen=True)
class Urgency:
    code: str
    met: bool
    state: str
    due_on: date | None
    days_left: int | None  # negative when overdue


def due_date(code: str, cohort: int, program_years: int = 3) -> date:
    final_year = cohort + program_years  # the calendar year of the last June
    if code == "LABOR_MONTH":
        return date(cohort + 2, 6, 30)
    if code == "INTERNSHIP":
        return date(final_year, 5, 31)
    return date(final_year, 6, 30)


def state_of(met: bool, due_on: date, today: date) -> str:
    if met:
        return "met"
    days = (due_on - today).days
    if days < 0:
        return "overdue"
    return "at_risk" if days <= AT_RISK_DAYS else "on_track"


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def of_requirement(
    requirement: dict[str, Any], cohort: int, program_years: int, today: date
) -> Urgency:
    """The decision's own state and due date when it has them, else the fallback rule."""
    code, met = requirement["code"], bool(requirement["met"])
    due_on = _date(requirement.get("due_on")) or due_date(code, cohort, program_years)
    state = requirement.get("state")
    if state not in STATES:
        state = state_of(met, due_on, today)
    return Urgency(code, met, state, due_on, (due_on - today).days)


def of_student(
    requirements: list[dict[str, Any]], cohort: int, program_years: int, today: date
) -> list[Urgency]:
    """Every requirement, the most urgent first (then the sooner due)."""
    found = [of_requirement(r, cohort, program_years, today) for r in requirements]
    return sorted(found, key=lambda u: (STATES.index(u.state), u.due_on or date.max))


def sort_key(urgencies: list[Urgency], student_id: str) -> tuple[float, date, str]:
    """Overdue students first, then at risk, on track, met; within a state, the sooner due
    date of what is still open first."""
    if not urgencies:
        return (UNDECIDED_RANK, date.max, student_id)
    worst = min(STATES.index(u.state) for u in urgencies)
    open_due = [u.due_on for u in urgencies if u.state != "met" and u.due_on]
    return (float(worst), min(open_due, default=date.max), student_id)
