"""Which state changes are warnings (SPEC §2.5), pure."""

from __future__ import annotations

from sanzheng_certificates.risks import changes


def r(code: str, state: str | None) -> dict[str, object]:
    return {"code": code, "met": state == "met", "detail": "…", "state": state}


def test_becoming_at_risk_or_overdue_warns_and_leaving_it_clears() -> None:
    before = [r("LABOR_MONTH", "on_track"), r("SKILL_1X", "at_risk"), r("QUALITY", "overdue")]
    after = [r("LABOR_MONTH", "at_risk"), r("SKILL_1X", "overdue"), r("QUALITY", "met")]
    assert [(kind, req["code"]) for kind, req in changes(before, after)] == [
        ("student.at_risk", "LABOR_MONTH"),
        ("student.at_risk", "SKILL_1X"),
        ("student.risk_cleared", "QUALITY"),
    ]


def test_no_change_in_risk_is_no_event_and_a_first_decision_counts_from_nothing() -> None:
    same = [r("LABOR_MONTH", "at_risk"), r("SKILL_1X", "on_track")]
    assert changes(same, same) == []
    assert changes([r("SKILL_1X", "on_track")], [r("SKILL_1X", "met")]) == []
    first = changes(None, [r("SKILL_1X", "overdue"), r("ENROLLED", "met")])
    assert [(kind, req["code"]) for kind, req in first] == [("student.at_risk", "SKILL_1X")]
    # Decisions made before states existed carry none: nothing to clear.
    assert changes([r("SKILL_1X", None)], [r("SKILL_1X", "on_track")]) == []
