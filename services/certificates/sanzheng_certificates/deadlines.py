"""Due dates and states of a decision's requirements (SPEC §2.5), pure.

Each requirement gets a `due_on` from the policy's `deadlines` and the student's lifecycle,
and a `state` on the decision date: `met`; `overdue` once the due date has passed unmet;
`at_risk` within the warning window when nothing is in progress (a post internship under
way is progress toward INTERNSHIP); otherwise `on_track`. A student not enrolled yet has
no lifecycle, so no due date: `on_track` until the enrollment arrives.

INTERNSHIP is also at risk, whatever the date, when the hours are below the pace needed:
the passed post internships and what the running ones plan until the due date (weekly
hours from the start to the planned end) fall short of the minimum. A counselor hears of
it while there is time to arrange more, not in the last weeks. A running placement whose
plan is not known (stored before plans were kept) counts as progress, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sanzheng_shared.policy.deadlines import DueAnchor

if TYPE_CHECKING:  # graduation.py imports this module
    from sanzheng_certificates.graduation import RequirementResult, StudentRecord
    from sanzheng_shared.policy import GraduationPolicy
    from sanzheng_shared.policy.model import Requirement

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


def planned_hours(record: StudentRecord, due: date) -> float | None:
    """Hours of the passed post internships plus those the running ones plan until `due`;
    None when a running one has no plan to go by."""
    total = record.passed_post_hours()
    for i in record.internships:
        if i.kind != "post" or i.status != "active":
            continue
        if i.start_on is None or i.planned_end_on is None or i.weekly_hours is None:
            return None
        days = (min(i.planned_end_on, due) - i.start_on).days
        total += i.weekly_hours * max(days, 0) / 7
    return total


def behind_pace(record: StudentRecord, due: date, min_hours: float) -> float | None:
    """The planned hours, when placements are running and their plans fall short."""
    if not in_progress("INTERNSHIP", record):
        return None
    planned = planned_hours(record, due)
    return planned if planned is not None and planned < min_hours else None


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
    result: RequirementResult,
    record: StudentRecord,
    policy: GraduationPolicy,
    day: date,
    requirement: Requirement,
) -> RequirementResult:
    anchor, warning = policy.deadlines.of(result.code)
    due = due_date(anchor, record.lifecycle) if record.lifecycle else None
    state = state_on(result.met, due, warning, day, in_progress(result.code, record))
    if state == "on_track" and due is not None and result.code == "INTERNSHIP":
        planned = behind_pace(record, due, requirement.min_hours)
        if planned is not None:
            detail = (
                f"{result.detail}; the running placements plan {planned:.0f} of "
                f"{requirement.min_hours:g} hours by {due.isoformat()}"
            )
            return type(result)(result.code, result.met, detail, "at_risk", due)
    # Built directly: `dataclasses.replace` costs three times as much, and this runs for
    # every requirement of every decision.
    return type(result)(result.code, result.met, result.detail, state, due)
