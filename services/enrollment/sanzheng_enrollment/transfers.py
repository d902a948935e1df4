"""A student changes school only through `student.transferred` (SPEC §2.1), pure.

Within one school (class or major) the owning school's word is enough. Between schools
the transfer takes effect once both schools have sent it with the same `transfer_id`, or
once the bureau approved it (an event with source `bureau/<id>`). Each party is recorded
by name in `agreed_by`, so the decision can say who agreed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sanzheng_shared.events.catalogue import StudentTransferred
from sanzheng_shared.events.envelope import Reason

BUREAU_SOURCE = "bureau/"


def party(source: str, school: str | None, owner: str, to_school: str) -> str | None:
    """Who is speaking: the owning school, the receiving school, the bureau, or nobody."""
    if source.startswith(BUREAU_SOURCE):
        return source
    if school in (owner, to_school):
        return school
    return None


@dataclass(frozen=True)
class Outcome:
    agreed_by: tuple[str, ...]
    done: bool


def agree(
    owner: str,
    t: StudentTransferred,
    speaker: str,
    earlier: dict[str, object] | None,
) -> Outcome | Reason:
    """The state of transfer `t` after `speaker` sent it (`earlier`: what was recorded)."""
    if earlier is not None:
        if earlier.get("done"):
            return Reason(
                "ENR_TRANSFER", f"transfer {t.transfer_id} already took effect", "transfer_id"
            )
        if earlier["to_school_id"] != t.to_school_id or earlier["to_class_id"] != t.to_class_id:
            return Reason(
                "ENR_TRANSFER",
                f"transfer {t.transfer_id} was agreed with another destination",
                "to_school_id" if earlier["to_school_id"] != t.to_school_id else "to_class_id",
            )
    agreed = set(earlier["agreed_by"] if earlier else ()) | {speaker}  # type: ignore[call-overload]
    both_schools = {owner, t.to_school_id} <= agreed
    by_bureau = any(a.startswith(BUREAU_SOURCE) for a in agreed)
    return Outcome(tuple(sorted(agreed)), both_schools or by_bureau)
