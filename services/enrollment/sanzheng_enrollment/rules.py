"""Enrollment rules (SPEC §2.1), pure: the lifecycle and the national ID's consistency."""

from __future__ import annotations

import math
from datetime import date, timedelta

from stdnum.cn import ric

from sanzheng_enrollment.privacy import NationalIdVault
from sanzheng_shared.events.envelope import Reason

# type -> (statuses it may follow, the status it leads to)
TRANSITIONS = {
    "student.suspended": ({"enrolled"}, "suspended"),
    "student.resumed": ({"suspended"}, "enrolled"),
    "student.withdrawn": ({"enrolled", "suspended"}, "withdrawn"),
    "student.repeated_year": ({"enrolled"}, "enrolled"),
    "student.graduated": ({"enrolled"}, "graduated"),
}


def next_status(current: str, event_type: str) -> str | Reason:
    allowed, target = TRANSITIONS[event_type]
    if current not in allowed:
        verb = event_type.split(".")[1]
        return Reason("ENR_TRANSITION", f"a student who is {current} cannot be {verb}", "on")
    return target


def check_national_id(number: str, birth_date: date) -> tuple[str | None, list[Reason]]:
    """The compact valid number, or the reasons it is refused (never echoing it)."""
    try:
        compact = NationalIdVault.validate(number)
    except ValueError as exc:
        return None, [
            Reason("ENR_NATIONAL_ID", f"national_id is not a valid 身份证号 ({exc})", "national_id")
        ]
    if ric.get_birth_date(compact) != birth_date:
        return None, [
            Reason(
                "ENR_NATIONAL_ID",
                # Not the masked number: never next to a birth date (SPEC §8).
                f"the birth date in national_id differs from birth_date {birth_date}",
                "birth_date",
            )
        ]
    return compact, []


def duplicate_id(
    masked: str, holder: str | None, student: str, *, same_school: bool = False
) -> Reason | None:
    """A national id already enrolled as another student (found by its keyed hash). Another
    school's holder is never named: one school must not learn another school's students."""
    if holder is None or holder == student:
        return None
    where = f"as student {holder}" if same_school else "at another school"
    return Reason(
        "ENR_DUPLICATE_ID", f"national_id {masked} is already enrolled {where}", "national_id"
    )


def sex_of(national_id: str) -> str:
    """The 17th digit of a 身份证号 is odd for a man, even for a woman (GB 11643)."""
    return "M" if int(national_id[16]) % 2 else "F"


def base_graduation(cohort: int, program_years: int) -> date:
    return date(cohort + program_years, 6, 30)


def after_suspension(
    expected: date, years_behind: int, suspended_on: date, resumed_on: date, *, round_up: bool
) -> tuple[date, int]:
    """A suspension pushes the expected graduation back by its length; by policy rounded up
    to whole school years, so the student rejoins a school year where it left it."""
    days = max((resumed_on - suspended_on).days, 0)
    if not round_up:
        return expected + timedelta(days=days), years_behind
    years = math.ceil(days / 365)
    return _plus_years(expected, years), years_behind + years


def after_repeated_year(expected: date, years_behind: int) -> tuple[date, int]:
    return _plus_years(expected, 1), years_behind + 1


def _plus_years(day: date, years: int) -> date:
    return day.replace(year=day.year + years, day=min(day.day, 28) if day.month == 2 else day.day)


def graduation_refused(eligible: bool | None) -> Reason | None:
    """The school confirms a graduation only for a student the decision found eligible."""
    if eligible:
        return None
    why = "not eligible" if eligible is False else "not decided yet"
    return Reason(
        "GRAD_NOT_ELIGIBLE",
        f"the student's graduation decision says {why}: see GET /v1/students/{{id}}/graduation",
        "on",
    )
