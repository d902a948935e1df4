"""Early warnings (SPEC §2.5): which requirements' states changed between two decisions,
as `student.at_risk` / `student.risk_cleared`, pure.

A requirement that becomes `at_risk` or `overdue` (or goes from one to the other) is a
warning; one that leaves them for `met` or `on_track` clears it. The first decision about
a student counts from nothing, so a student overdue when first seen is warned.
"""

from __future__ import annotations

from typing import Any

RISKY = ("at_risk", "overdue")


def changes(
    before: list[dict[str, Any]] | None, after: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """(event type, requirement) for each requirement whose risk changed."""
    old = {r["code"]: r.get("state") for r in before or []}
    out = []
    for requirement in after:
        was, now = old.get(requirement["code"]), requirement.get("state")
        if now in RISKY and now != was:
            out.append(("student.at_risk", requirement))
        elif was in RISKY and now not in RISKY:
            out.append(("student.risk_cleared", requirement))
    return out
