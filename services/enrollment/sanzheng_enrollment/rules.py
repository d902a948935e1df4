"""Enrollment rules (SPEC §2.1), pure: the lifecycle and the national ID's consistency."""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric

from sanzheng_enrollment.privacy import NationalIdVault, mask
from sanzheng_shared.events.envelope import Reason

# type -> (statuses it may follow, the status it leads to)
TRANSITIONS = {
    "student.suspended": ({"enrolled"}, "suspended"),
    "student.resumed": ({"suspended"}, "enrolled"),
    "student.withdrawn": ({"enrolled", "suspended"}, "withdrawn"),
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
                f"the birth date in national_id {mask(compact)} "
                f"differs from birth_date {birth_date}",
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
