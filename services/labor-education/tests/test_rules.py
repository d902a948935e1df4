"""Every LAB_* rule: a labor month that keeps it and one that breaks it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sanzheng_labor_education.rules import check_completed
from sanzheng_shared.events.catalogue import LaborEducationCompleted

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


def test_june_of_the_second_year_for_a_month_passed_is_valid() -> None:
    assert check_completed(month(), COHORT, 28) == []


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
        ({"period_end": date(2026, 6, 20)}, COHORT, "LAB_DURATION", "period_end"),
        ({"evaluation": "fail"}, COHORT, "LAB_EVALUATION", "evaluation"),
    ],
)
def test_each_rule_names_its_code_and_field(overrides, cohort, code, field) -> None:
    reasons = check_completed(month(**overrides), cohort, 28)
    assert [(r.code, r.field) for r in reasons] == [(code, field)]


def test_the_minimum_days_come_from_the_policy() -> None:
    short = month(period_end=date(2026, 6, 25))  # 25 days
    assert check_completed(short, COHORT, 25) == []
    assert [r.code for r in check_completed(short, COHORT, 28)] == ["LAB_DURATION"]
