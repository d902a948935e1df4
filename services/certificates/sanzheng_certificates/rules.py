"""Certificate rules (SPEC §2.4), pure: one certificate number belongs to one student."""

from __future__ import annotations

from sanzheng_shared.events.envelope import Reason


def number_conflict(number: str, holder: str | None, student: str) -> Reason | None:
    """The same number for the same student is the same certificate; for another student it
    is a mistake the school must correct."""
    if holder is None or holder == student:
        return None
    return Reason(
        "CERT_DUPLICATE_NO",
        f"certificate {number} already belongs to another student",
        "certificate_no",
    )


def revocation_conflict(number: str, holder: str | None, student: str) -> Reason | None:
    if holder is None or holder == student:
        return None
    return Reason(
        "DATA_INVALID", f"certificate {number} belongs to another student", "certificate_no"
    )
