"""The June labor-education month (SPEC §2.3), as pure functions.

`labor_education.completed` is valid only for a student in the 2nd school year on the
period's start date, a period starting in June, lasting at least the policy's minimum days,
evaluated `pass`.
"""

from __future__ import annotations

from sanzheng_shared.domain.school_year import grade_year
from sanzheng_shared.events.catalogue import LaborEducationCompleted
from sanzheng_shared.events.envelope import Reason

LABOR_GRADE_YEAR = 2
LABOR_MONTH = 6


def grade_year_rule(d: LaborEducationCompleted, cohort: int) -> list[Reason]:
    year = grade_year(cohort, d.period_start)
    if year != LABOR_GRADE_YEAR:
        return [
            Reason(
                "LAB_GRADE_YEAR",
                f"the labor month is done in the 2nd school year; "
                f"cohort {cohort} is in year {year} on {d.period_start}",
                "period_start",
            )
        ]
    return []


def june_rule(d: LaborEducationCompleted) -> list[Reason]:
    if d.period_start.month != LABOR_MONTH:
        return [
            Reason(
                "LAB_JUNE",
                f"the labor month starts in June; this period starts on {d.period_start}",
                "period_start",
            )
        ]
    return []


def duration_rule(d: LaborEducationCompleted, min_days: int) -> list[Reason]:
    days = (d.period_end - d.period_start).days + 1
    if days < min_days:
        return [
            Reason(
                "LAB_DURATION",
                f"the labor month lasts at least {min_days} days; "
                f"{d.period_start}–{d.period_end} is {days}",
                "period_end",
            )
        ]
    return []


def evaluation_rule(d: LaborEducationCompleted) -> list[Reason]:
    if d.evaluation != "pass":
        return [
            Reason(
                "LAB_EVALUATION",
                f"the labor month counts only with the evaluation `pass`, not `{d.evaluation}`",
                "evaluation",
            )
        ]
    return []


def check_completed(d: LaborEducationCompleted, cohort: int, min_days: int) -> list[Reason]:
    if d.period_end < d.period_start:
        return [Reason("DATA_INVALID", "period_end is before period_start", "period_end")]
    return (
        grade_year_rule(d, cohort) + june_rule(d) + duration_rule(d, min_days) + evaluation_rule(d)
    )
