"""The class page's urgency rule, its chart geometry and the cohorts' eligible share, on
plain values."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sanzheng_gateway import charts, messages, trend, urgency


def _req(code: str, met: bool, **extra: str) -> dict[str, object]:
    return {"code": code, "met": met, "detail": "", **extra}


def test_due_dates_follow_the_cohort_and_the_program() -> None:
    assert urgency.due_date("LABOR_MONTH", 2024) == date(2026, 6, 30)  # 2nd school year
    assert urgency.due_date("INTERNSHIP", 2024) == date(2027, 5, 31)
    assert urgency.due_date("SKILL_1X", 2024) == date(2027, 6, 30)
    assert urgency.due_date("SKILL_1X", 2024, program_years=5) == date(2029, 6, 30)


def test_the_fallback_state_by_the_days_left() -> None:
    due = date(2027, 6, 30)
    assert urgency.state_of(True, due, date(2030, 1, 1)) == "met"
    assert urgency.state_of(False, due, date(2027, 5, 15)) == "on_track"  # 46 days left
    assert urgency.state_of(False, due, date(2027, 5, 16)) == "at_risk"  # 45 days left
    assert urgency.state_of(False, due, date(2027, 6, 30)) == "at_risk"
    assert urgency.state_of(False, due, date(2027, 7, 1)) == "overdue"


def test_the_decisions_own_state_and_due_date_win() -> None:
    today = date(2026, 11, 29)
    own = urgency.of_requirement(
        _req("SKILL_1X", False, state="at_risk", due_on="2026-12-20"), 2024, 3, today
    )
    assert (own.state, own.due_on, own.days_left) == ("at_risk", date(2026, 12, 20), 21)
    fallback = urgency.of_requirement(_req("SKILL_1X", False, state="bogus"), 2024, 3, today)
    assert (fallback.state, fallback.due_on) == ("on_track", date(2027, 6, 30))


def test_students_sort_overdue_then_at_risk_then_on_track_then_met() -> None:
    today = date(2026, 11, 29)
    students = {
        "met": [_req("SKILL_1X", True)],
        "on_track": [_req("SKILL_1X", False), _req("QUALITY", True)],
        "overdue": [_req("SKILL_1X", True), _req("LABOR_MONTH", False)],
        "at_risk": [_req("QUALITY", False, state="at_risk", due_on="2026-12-01")],
        "undecided": [],
    }
    cohorts = {"overdue": 2023}
    ranked = sorted(
        students,
        key=lambda s: urgency.sort_key(
            urgency.of_student(students[s], cohorts.get(s, 2024), 3, today), s
        ),
    )
    assert ranked == ["overdue", "at_risk", "undecided", "on_track", "met"]
    # A student's own requirements: the most urgent first.
    mixed = urgency.of_student(students["overdue"], 2023, 3, today)
    assert [u.state for u in mixed] == ["overdue", "met"]


def test_every_requirement_and_state_is_said_in_both_languages() -> None:
    for code in [*messages.REQUIREMENTS, "ACADEMIC"]:
        assert messages.word("next_action", code, "zh") != code
        assert messages.word("next_action", code, "en") != code
    for state in urgency.STATES:
        assert messages.word("state", state, "zh") != state
    assert messages.days_left(3, "zh") == "还有 3 天"
    assert messages.days_left(-2, "zh") == "已逾期 2 天"
    assert messages.days_left(-2, "en") == "2 days overdue"


def test_stacked_bars_split_the_bar_by_state() -> None:
    counts = [{"code": "SKILL_1X", "overdue": 1, "at_risk": 0, "on_track": 1, "met": 2, "of": 4}]
    [bar] = charts.stacked_bars(counts)
    widths = {s.state: s.width for s in bar.segments}
    assert widths == {"overdue": 75.0, "at_risk": 0.0, "on_track": 75.0, "met": 150.0}
    assert [s.x for s in bar.segments] == [0.0, 75.0, 75.0, 150.0]


def test_the_eligible_share_per_cohort_month_by_month() -> None:
    def at(day: str) -> datetime:
        return datetime.fromisoformat(day + "T04:00:00").replace(tzinfo=UTC)

    decisions = [
        ("s1", 2023, False, at("2026-04-10")),
        ("s2", 2023, False, at("2026-04-11")),
        ("s1", 2023, True, at("2026-05-03")),
        ("s2", 2023, True, at("2026-06-20")),
        ("s2", 2023, False, at("2026-06-21")),  # a revoked certificate: no longer eligible
    ]
    lines = trend.shares(decisions, {2023: 2, 2024: 1}, date(2026, 7, 9))
    assert [(p.month, p.eligible, p.of) for p in lines[2023]] == [
        ("2026-04", 0, 2),
        ("2026-05", 1, 2),
        ("2026-06", 1, 2),
        ("2026-07", 1, 2),
    ]
    assert [p.eligible for p in lines[2024]] == [0, 0, 0, 0]
    assert trend.shares([], {2023: 2}, date(2026, 7, 9)) == {}
