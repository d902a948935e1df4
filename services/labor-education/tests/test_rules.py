"""Every LAB_* rule: a labor month that keeps it and one that breaks it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sanzheng_labor_education.rules import LaborStudent, check_completed, exemption_refusals
from sanzheng_shared.events.catalogue import LaborEducationCompleted, LaborEducationExempted
from sanzheng_shared.policy import PolicyBook

COHORT = 2024  # 2nd school year: 2025-09-01 .. 2026-08-31, so its June is June 2026


def month(**overrides: Any) -> LaborEducationCompleted:
    fields: dict[str, Any] = {
        "period_start": date(2026, 6, 1),
        "period_end": date(2026, 6, 30),
        "hours": 160,
        "site": "校内实训基地",
        "evaluation": "pass",
    }
    fields.update(overrides)
    return LaborEducationCompleted.model_validate(fields)


def check(m: LaborEducationCompleted, cohort: int = COHORT, **facts: Any) -> list:
    return check_completed(m, LaborStudent(cohort, **facts), 20, True)


def test_june_of_the_second_year_is_valid_passed_or_failed() -> None:
    assert check(month()) == []
    # A fail is an attempt that happened (recorded), not bad data (issue 11, point 8).
    assert check(month(evaluation="fail")) == []


@pytest.mark.parametrize(
    ("overrides", "cohort", "code", "field"),
    [
        ({}, 2025, "LAB_GRADE_YEAR", "period_start"),  # June 2026 is cohort 2025's 1st year
        ({}, 2023, "LAB_GRADE_YEAR", "period_start"),
        (
            {"period_start": date(2026, 5, 1), "period_end": date(2026, 5, 31)},
            COHORT,
            "LAB_JUNE",
            "period_start",
        ),
        # Starting in June is not enough: 30 June - 27 July once passed (issue 11, point 8).
        (
            {"period_start": date(2026, 6, 30), "period_end": date(2026, 7, 27)},
            COHORT,
            "LAB_JUNE",
            "period_end",
        ),
        ({"period_end": date(2026, 6, 20)}, COHORT, "LAB_DURATION", "period_end"),
    ],
)
def test_each_rule_names_its_code_and_field(overrides, cohort, code, field) -> None:
    reasons = check(month(**overrides), cohort)
    assert [(r.code, r.field) for r in reasons] == [(code, field)]


def test_the_minimum_working_days_come_from_the_policy() -> None:
    short = month(period_end=date(2026, 6, 26))  # Mon 1 June - Fri 26 June: 20 working days
    assert check(short) == []
    shorter = month(period_end=date(2026, 6, 25))  # 19
    assert [r.code for r in check(shorter)] == ["LAB_DURATION"]
    assert check_completed(shorter, LaborStudent(COHORT), 19, True) == []


def test_a_failed_june_may_be_made_up_in_the_following_summer_when_the_policy_allows() -> None:
    july = month(period_start=date(2026, 7, 1), period_end=date(2026, 7, 31))
    assert check(july, failed_in=2026) == []
    assert [r.code for r in check(july)] == ["LAB_JUNE"]  # no failed attempt to make up
    no_makeup = check_completed(july, LaborStudent(COHORT, failed_in=2026), 20, False)
    assert [r.code for r in no_makeup] == ["LAB_JUNE"]


def test_the_grade_year_follows_the_lifecycle() -> None:
    # A student of cohort 2023 who repeated a year does the labor month a year later.
    assert check(month(), 2023, years_behind=1) == []


def test_a_summer_make_up_before_its_failed_june_waits_for_it() -> None:
    from sanzheng_labor_education.rules import awaits_failed_june

    july = month(period_start=date(2026, 7, 1), period_end=date(2026, 7, 31))
    assert awaits_failed_june(july, LaborStudent(COHORT), True)
    assert not awaits_failed_june(july, LaborStudent(COHORT, failed_in=2026), True)
    assert not awaits_failed_june(july, LaborStudent(COHORT), False)  # no make-up: refused
    june = month()
    assert not awaits_failed_june(june, LaborStudent(COHORT), True)


def _exemption(**changes: object) -> LaborEducationExempted:
    base = {
        "reason": "腿部骨折",
        "approved_by": "王校长",
        "on": "2025-05-10",
        "approver_role": "principal",
        "reason_category": "medical",
        "expires_on": "2025-12-31",
    }
    return LaborEducationExempted.model_validate(base | changes)


def test_an_exemption_is_accepted_only_as_a_waiver_the_policy_allows() -> None:
    policy = PolicyBook.load().for_student("SCH001", 2023, date(2026, 6, 30))
    assert exemption_refusals(_exemption(), policy) == []
    old_form = _exemption(approver_role=None, reason_category=None, expires_on=None)
    assert {(r.code, r.field) for r in exemption_refusals(old_form, policy)} == {
        ("DATA_REQUIRED", "approver_role"),
        ("DATA_REQUIRED", "reason_category"),
        ("DATA_REQUIRED", "expires_on"),
    }
    by_a_counselor = exemption_refusals(_exemption(approver_role="counselor"), policy)
    assert [(r.code, r.field) for r in by_a_counselor] == [("WAIVER_NOT_ALLOWED", "approver_role")]
    hardship = exemption_refusals(_exemption(reason_category="hardship"), policy)
    assert [(r.code, r.field) for r in hardship] == [("WAIVER_NOT_ALLOWED", "reason_category")]
