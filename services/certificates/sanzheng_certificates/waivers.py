"""Waivers in the graduation decision (SPEC §2.5), pure.

A waiver makes an unmet requirement met while it is in force: granted on or before the
decision date, not expired, not revoked, and allowed by the policy deciding (the role and
the reason category). A requirement the facts meet stays met by the facts. An expired
waiver stops counting and says so in the detail, so the counselor sees why the
requirement is open again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from sanzheng_shared.policy.waivers import refusal

if TYPE_CHECKING:  # graduation.py imports this module
    from sanzheng_certificates.graduation import RequirementResult
    from sanzheng_shared.policy import GraduationPolicy


@dataclass(frozen=True)
class Waiver:
    waiver_id: str
    requirement: str
    reason_category: str
    reason: str
    approver_name: str
    approver_role: str
    granted_on: date
    expires_on: date
    revoked_on: date | None = None


def in_force(waiver: Waiver, on: date) -> bool:
    return waiver.revoked_on is None and waiver.granted_on <= on <= waiver.expires_on


def allowed(waiver: Waiver, policy: GraduationPolicy) -> bool:
    """Checked at every decision, not only on arrival: a policy that stops allowing a
    waiver (or another policy now in force) makes it stop counting."""
    found = refusal(
        policy.waivers, waiver.requirement, waiver.approver_role, waiver.reason_category
    )
    return found is None


def waived_detail(w: Waiver) -> str:
    return (
        f"waived by {w.approver_name} ({w.approver_role}), "
        f"reason {w.reason_category}: {w.reason}, until {w.expires_on.isoformat()}"
    )


def apply(
    result: RequirementResult, waivers: tuple[Waiver, ...], policy: GraduationPolicy, on: date
) -> RequirementResult:
    """The requirement's result with its waivers applied on the decision date `on`."""
    if result.met:
        return result
    mine = [w for w in waivers if w.requirement == result.code and allowed(w, policy)]
    current = [w for w in mine if in_force(w, on)]
    if current:
        latest = max(current, key=lambda w: (w.expires_on, w.waiver_id))
        return replace(result, met=True, detail=waived_detail(latest))
    expired = [w for w in mine if w.revoked_on is None and w.expires_on < on]
    if expired:
        last = max(expired, key=lambda w: (w.expires_on, w.waiver_id))
        return replace(
            result,
            detail=f"{result.detail}; waiver by {last.approver_name} expired on "
            f"{last.expires_on.isoformat()}",
        )
    return result
