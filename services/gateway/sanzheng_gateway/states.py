"""Requirement states on the gateway's decisions (SPEC §2.5): what the school list filters
(`?state=at_risk`) and sorts by (`?sort=urgency`: overdue first, then at risk, each by the
nearest due date)."""

from __future__ import annotations

from datetime import date
from typing import Any

STATES = ("met", "on_track", "at_risk", "overdue")
URGENCY = {"overdue": 0, "at_risk": 1, "on_track": 2}
CALM = 3  # nothing unmet, or a decision made before states existed


def summary(requirements: list[dict[str, Any]]) -> dict[str, Any]:
    """`states` of the unmet requirements, their earliest `next_due`, the `urgency` rank."""
    unmet = [r for r in requirements if not r["met"] and r.get("state")]
    states = sorted({r["state"] for r in unmet}, key=lambda s: URGENCY.get(s, CALM))
    dues = [date.fromisoformat(r["due_on"]) for r in unmet if r.get("due_on")]
    return {
        "states": states,
        "next_due": min(dues, default=None),
        "urgency": min((URGENCY.get(s, CALM) for s in states), default=CALM),
    }
