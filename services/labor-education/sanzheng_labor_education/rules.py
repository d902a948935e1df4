"""The June labor-education month (SPEC §2.3, the seed's 二年级学生在当年6月进行为期一个月的
劳动教育), as pure functions.

`labor_education.completed` is valid only for a student in the 2nd school year (the grade
year from the lifecycle), with the whole period inside June, lasting at least the policy's
minimum working days. An evaluation of `fail` is a failed attempt, recorded, not bad data;
when the policy allows, a failed June may be made up in the summer holidays that follow it
(1 July - 31 August, still the 2nd school year).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sanzheng_shared.domain.school_year import grade_year, working_days
from sanzheng_shared.events.catalogue import LaborEducationCompleted, LaborEducationExempted
from sanzheng_shared.events.envelope import Reason
from sanzheng_shared.policy import GraduationPolicy
from sanzheng_shared.policy.waivers import refusal

LABOR_GRADE_YEAR = 2
LABOR_MONTH = 6
SUMMER = (7, 8)


@dataclass(frozen=True)
class LaborStudent:
    cohort: int
    years_behind: int = 0  # school years added by the lifecycle (suspension, repeated year)
    failed_in: int | None = None  # the year of a failed June attempt, if any
    passed_in: int | None = None  # the year of a June month passed, if any

    def grade_year(self, day: date) -> int:
        return grade_year(self.cohort, day) - self.years_behind


def is_makeup(d: LaborEducationCompleted, st: LaborStudent, allowed: bool) -> bool:
    """A period inside the summer holidays right after a failed June, when allowed."""
    return (
        allowed
        and st.failed_in == d.period_start.year
        and d.period_start.month in SUMMER
        and d.period_end.month in SUMMER
        and d.period_end.year == d.period_start.year
    )


def awaits_failed_june(d: LaborEducationCompleted, st: LaborStudent, allowed: bool) -> bool:
    """A summer period that would be a make-up, but no failed June of that year is known
    yet: the failed attempt may simply arrive later (any order, SPEC §4.3), so the
    submission waits for it instead of being refused as outside June."""
    return (
        allowed
        and st.failed_in != d.period_start.year
        and st.passed_in != d.period_start.year  # passed: nothing to make up
        and d.period_start.month in SUMMER
        and d.period_end.month in SUMMER
        and d.period_end.year == d.period_start.year
    )


def grade_year_rule(d: LaborEducationCompleted, st: LaborStudent) -> list[Reason]:
    year = st.grade_year(d.period_start)
    if year != LABOR_GRADE_YEAR:
        return [
            Reason(
                "LAB_GRADE_YEAR",
                f"the labor month is done in the 2nd school year; the student "
                f"(cohort {st.cohort}) is in year {year} on {d.period_start}",
                "period_start",
            )
        ]
    return []


def june_rule(d: LaborEducationCompleted) -> list[Reason]:
    inside = (
        d.period_start.month == LABOR_MONTH
        and d.period_end.month == LABOR_MONTH
        and d.period_start.year == d.period_end.year
    )
    if not inside:
        return [
            Reason(
                "LAB_JUNE",
                f"the labor month lies within June; this period is {d.period_start}–{d.period_end}",
                "period_end" if d.period_start.month == LABOR_MONTH else "period_start",
            )
        ]
    return []


def duration_rule(d: LaborEducationCompleted, min_working_days: int) -> list[Reason]:
    days = working_days(d.period_start, d.period_end)
    if days < min_working_days:
        return [
            Reason(
                "LAB_DURATION",
                f"the labor month lasts at least {min_working_days} working days; "
                f"{d.period_start}–{d.period_end} holds {days}",
                "period_end",
            )
        ]
    return []


def check_completed(
    d: LaborEducationCompleted, st: LaborStudent, min_working_days: int, makeup_allowed: bool
) -> list[Reason]:
    if d.period_end < d.period_start:
        return [Reason("DATA_INVALID", "period_end is before period_start", "period_end")]
    month = [] if is_makeup(d, st, makeup_allowed) else june_rule(d)
    return grade_year_rule(d, st) + month + duration_rule(d, min_working_days)


def exemption_refusals(d: LaborEducationExempted, policy: GraduationPolicy) -> list[Reason]:
    """What an exemption lacks to be a LABOR_MONTH waiver the policy allows."""
    missing = [
        Reason("DATA_REQUIRED", f"an exemption needs `{name}` (it is a waiver)", name)
        for name in ("approver_role", "reason_category", "expires_on")
        if getattr(d, name) is None
    ]
    if missing:
        return missing
    assert d.approver_role is not None and d.reason_category is not None
    found = refusal(policy.waivers, "LABOR_MONTH", d.approver_role, d.reason_category)
    if found is not None:
        field, message = found
        field = "approver_role" if field == "approver.role" else field
        return [Reason("WAIVER_NOT_ALLOWED", f"{message} under policy {policy.version}", field)]
    if d.expires_on is not None and d.expires_on < d.on:
        return [Reason("DATA_INVALID", "expires_on is before `on`", "expires_on")]
    return []
