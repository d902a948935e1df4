"""Which requirements may be waived, by whom and why (SPEC §2.5): policy data.

A waiver (`requirement.waived`) counts only when the policy in force lists its requirement
here, names the approver's role and allows its reason category. The gateway checks it
before publishing and the certificates service checks it again on the event and at every
decision: a waiver the policy does not allow (or no longer allows) never counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WaiverRole = Literal["principal", "bureau"]
ReasonCategory = Literal["medical", "disability", "hardship", "transfer", "other"]
REASON_CATEGORIES: tuple[ReasonCategory, ...] = ReasonCategory.__args__  # type: ignore[attr-defined]


class WaiverRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: list[WaiverRole] = Field(min_length=1)
    reasons: list[ReasonCategory] = list(REASON_CATEGORIES)


def refusal(
    rules: Mapping[Any, WaiverRule], requirement: str, role: str, category: str
) -> tuple[str, str] | None:
    """(field, message) when the policy does not allow this waiver, else None."""
    rule = rules.get(requirement)
    if rule is None:
        allowed = ", ".join(sorted(rules)) or "none"
        return "requirement", f"{requirement} may not be waived (waivable: {allowed})"
    if role not in rule.roles:
        return (
            "approver.role",
            f"a {role} may not waive {requirement} (approved by: {', '.join(rule.roles)})",
        )
    if category not in rule.reasons:
        return (
            "reason_category",
            f"{requirement} may not be waived for {category} (reasons: {', '.join(rule.reasons)})",
        )
    return None
