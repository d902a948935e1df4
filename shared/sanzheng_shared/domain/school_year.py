"""School years start on 1 September (SPEC §2.1)."""

from __future__ import annotations

from datetime import date, timedelta


def school_year_of(day: date) -> int:
    """The calendar year in which the school year containing `day` began."""
    return day.year if day.month >= 9 else day.year - 1


def grade_year(cohort: int, day: date) -> int:
    """1 for the first school year: cohort 2024 is in its 2nd year from 2025-09-01 to 2026-08-31."""
    return school_year_of(day) - cohort + 1


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def expected_graduation(cohort: int, program_years: int = 3) -> date:
    return date(cohort + program_years, 6, 30)


def working_days(first: date, last: date) -> int:
    """Monday to Friday from `first` to `last`, both included (no holiday calendar: the
    count is an upper bound, which is what a ceiling on hours needs)."""
    if last < first:
        return 0
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    return weeks * 5 + sum((first + timedelta(days=i)).weekday() < 5 for i in range(rest))
