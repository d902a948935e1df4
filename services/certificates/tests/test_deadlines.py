"""Due dates and states (SPEC §2.5), pure: a requirement's state moves with the decision
date and the lifecycle, not only with the facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from pydantic import ValidationError

from sanzheng_certificates.deadlines import Lifecycle
from sanzheng_certificates.graduation import InternshipFact, StudentRecord, decide
from sanzheng_shared.policy import GraduationPolicy, PolicyBook

POLICY = PolicyBook.load().for_student("SCH001", 2024, date(2027, 6, 30))
COHORT_2024 = StudentRecord(
    enrolled=True, status="enrolled", lifecycle=Lifecycle(2024, 0, date(2027, 6, 30))
)


def states(record: StudentRecord, on: date) -> dict[str, tuple[str | None, date | None]]:
    return {r.code: (r.state, r.due_on) for r in decide(record, POLICY, on).requirements}


def test_each_requirement_is_due_on_its_policy_day_of_the_lifecycle() -> None:
    found = states(COHORT_2024, date(2025, 10, 1))
    assert found["LABOR_MONTH"] == ("on_track", date(2026, 6, 30))  # June of the 2nd year
    assert found["INTERNSHIP"] == ("on_track", date(2027, 5, 31))  # May of the final year
    assert found["SKILL_1X"] == ("on_track", date(2027, 6, 30))  # the expected graduation
    assert found["ENROLLED"] == ("met", date(2027, 6, 30))


def test_the_labor_month_is_at_risk_from_15_may_and_overdue_after_30_june() -> None:
    assert states(COHORT_2024, date(2026, 5, 14))["LABOR_MONTH"][0] == "on_track"
    assert states(COHORT_2024, date(2026, 5, 15))["LABOR_MONTH"][0] == "at_risk"
    assert states(COHORT_2024, date(2026, 6, 30))["LABOR_MONTH"][0] == "at_risk"
    assert states(COHORT_2024, date(2026, 7, 1))["LABOR_MONTH"][0] == "overdue"
    done = replace(COHORT_2024, labor_completed=True)
    assert states(done, date(2026, 7, 1))["LABOR_MONTH"][0] == "met"


def test_a_year_behind_moves_the_due_dates_with_it() -> None:
    behind = replace(COHORT_2024, lifecycle=Lifecycle(2024, 1, date(2028, 6, 30)))
    found = states(behind, date(2026, 7, 1))
    assert found["LABOR_MONTH"] == ("on_track", date(2027, 6, 30))
    assert found["INTERNSHIP"][1] == date(2028, 5, 31)


def test_a_post_internship_under_way_is_progress_inside_the_warning_window() -> None:
    window = date(2027, 5, 1)  # 30 days before 31 May
    assert states(COHORT_2024, window)["INTERNSHIP"][0] == "at_risk"
    placed = replace(COHORT_2024, internships=(InternshipFact("I-1", "post", "active"),))
    assert states(placed, window)["INTERNSHIP"][0] == "on_track"
    # ... but not past the due date.
    assert states(placed, date(2027, 6, 1))["INTERNSHIP"][0] == "overdue"


def test_without_an_enrollment_nothing_is_due_yet() -> None:
    found = states(StudentRecord(), date(2030, 1, 1))
    assert found["SKILL_1X"] == ("on_track", None)


def test_a_deadline_for_a_code_that_is_no_requirement_is_refused_at_load() -> None:
    doc = POLICY.model_dump(by_alias=True)
    doc["deadlines"]["due"]["LABOR_MONT"] = {"anchor": "second_year_june"}
    with pytest.raises(ValidationError, match=r"deadlines\.due names no requirement"):
        GraduationPolicy.model_validate(doc)


def _running(start: date, end: date, weekly: float) -> InternshipFact:
    return InternshipFact("I-1", "post", "active", 0, None, start, end, weekly)


def test_a_placement_whose_plan_falls_short_of_the_hours_is_at_risk_long_before_may() -> None:
    """480 hours are asked: 26 weeks at 16 hours plan 416, so the student is behind the
    pace needed in November already; at 40 hours a week the same placement is on track."""
    november = date(2026, 11, 29)
    slow = replace(COHORT_2024, internships=(_running(date(2026, 7, 1), date(2026, 12, 30), 16),))
    found = {r.code: r for r in decide(slow, POLICY, november).requirements}
    assert found["INTERNSHIP"].state == "at_risk"
    assert found["INTERNSHIP"].due_on == date(2027, 5, 31)
    assert "plan 416 of 480 hours by 2027-05-31" in found["INTERNSHIP"].detail
    full = replace(COHORT_2024, internships=(_running(date(2026, 7, 1), date(2026, 12, 30), 40),))
    assert states(full, november)["INTERNSHIP"][0] == "on_track"


def test_the_pace_counts_passed_hours_and_only_the_plan_before_the_due_date() -> None:
    done = InternshipFact("I-0", "post", "completed", 300, "pass")
    # 300 passed + 10 weeks at 20 = 500: enough.
    enough = replace(
        COHORT_2024,
        internships=(done, _running(date(2027, 1, 4), date(2027, 3, 15), 20)),
    )
    assert states(enough, date(2027, 1, 10))["INTERNSHIP"][0] == "on_track"
    # A plan running past 31 May counts only until then: 300 + 4 weeks at 40 = 460.
    late = replace(
        COHORT_2024,
        internships=(done, _running(date(2027, 5, 3), date(2027, 9, 1), 40)),
    )
    assert states(late, date(2027, 1, 10))["INTERNSHIP"][0] == "at_risk"


def test_a_running_placement_without_a_known_plan_is_progress_as_before() -> None:
    unknown = replace(COHORT_2024, internships=(InternshipFact("I-1", "post", "active"),))
    assert states(unknown, date(2027, 5, 1))["INTERNSHIP"][0] == "on_track"
