"""Due dates and states of a decision's requirements (SPEC §2.5), pure.

Each requirement gets a `due_on` from the policy's `deadlines` and the student's lifecycle,
and a `state` on the decision date: `met`; `overdue` once the due date has passed unmet;
`at_risk` within the warning window when nothing is in progress (a post internship under
way is progress toward INTERNSHIP); otherwise `on_track`. A student not enrolled yet has
no lifecycle, so no due date: `on_track` until the enrollment arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sanzheng_shared.policy.deadlines import DueAnchor

if TYPE_CHECKING:  # graduation.py imports this module
    from sanzheng_certificates.graduation import RequirementResult, StudentRecord
    from sanzheng_shared.policy import GraduationPolicy

STATES = ("met", "on_track", "at_risk", "overdue")


@dataclass(frozen=True)
class Lifecycle:
    """What the enrollment says about the student's time at school."""

    cohort: int
    years_behind: int
    expected_graduation: date


def due_date(anchor: DueAnchor, life: Lifecycle) -> date:
    if anchor == "second_year_june":
        # The 2nd school year of cohort C ends in June of C+2; a year behind, one later.
        return date(life.cohort + 2 + life.years_behind, 6, 30)
    if anchor == "final_year_may":
        return date(life.expected_graduation.year, 5, 31)
    return life.expected_graduation


def in_progress(code: str, record: StudentRecord) -> bool:
    if code == "INTERNSHIP":
        return any(i.kind == "post" and i.status == "active" for i in record.internships)
    return False


def state_on(met: bool, due: date | None, warning_days: int, day: date, moving: bool) -> str:
    if met:
        return "met"
    if due is None:
        return "on_track"
    if day > due:
        return "overdue"
    if day >= due - timedelta(days=warning_days) and not moving:
        return "at_risk"
    return "on_track"


def with_deadline(
    result: RequirementResult, record: StudentRecord, policy: GraduationPolicy, day: date
) -> RequirementResult:
    anchor, warning = policy.deadlines.of(result.code)
    due = due_date(anchor, record.lifecycle) if record.lifecycle else None
    state = state_on(result.met, due, warning, day, in_progress(result.code, record))
    return replace(result, state=state, due_on=due)
