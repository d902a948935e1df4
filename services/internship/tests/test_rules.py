"""Every INT_* rule: a submission that keeps it and one that breaks it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sanzheng_internship.rules import EmployerLoad, StudentFacts, check_started
from sanzheng_shared.events.catalogue import InternshipStarted
from sanzheng_shared.policy import PolicyBook

POLICY = PolicyBook.load().for_student("SCH001", 2023, date(2025, 9, 1))
ADULT = StudentFacts(birth_date=date(2006, 3, 1), cohort=2023)  # 19 in Sept 2025, 3rd year


def started(**overrides: Any) -> InternshipStarted:
    fields: dict[str, Any] = {
        "internship_id": "I1",
        "kind": "post",
        "employer_id": "E1",
        "employer_name": "华东精密机械",
        "post_title": "装配工",
        "start_on": date(2025, 9, 1),
        "planned_end_on": date(2026, 2, 28),
        "agreement_signed": True,
        "guardian_consent": True,
        "insurance_policy_no": "PICC-1",
        "daily_hours": 8,
        "weekly_hours": 40,
        "monthly_pay": 3200,
        "post_wage": 3800,
        "employer_staff": 400,
        "employer_post_staff": 100,
        "venue_type": "factory",
    }
    fields.update(overrides)
    return InternshipStarted.model_validate(fields)


NO_LOAD = EmployerLoad()


def codes(
    s: InternshipStarted, student: StudentFacts = ADULT, load: EmployerLoad = NO_LOAD
) -> dict[str, str]:
    return {b.field: b.code for b in check_started(s, student, load, POLICY)}


def test_a_lawful_post_internship_breaks_no_rule() -> None:
    assert codes(started()) == {}


@pytest.mark.parametrize(
    ("overrides", "student", "load", "code", "field"),
    [
        ({}, StudentFacts(date(2010, 1, 1), 2024), EmployerLoad(), "INT_MIN_AGE", "start_on"),
        (
            {"start_on": date(2023, 11, 1), "planned_end_on": date(2024, 3, 1)},
            ADULT,
            EmployerLoad(),
            "INT_FIRST_YEAR",
            "start_on",
        ),
        ({"agreement_signed": False}, ADULT, EmployerLoad(), "INT_AGREEMENT", "agreement_signed"),
        (
            {"guardian_consent": False},
            StudentFacts(date(2008, 6, 1), 2023),
            EmployerLoad(),
            "INT_AGREEMENT",
            "guardian_consent",
        ),
        (
            {"insurance_policy_no": None},
            ADULT,
            EmployerLoad(),
            "INT_INSURANCE",
            "insurance_policy_no",
        ),
        ({"daily_hours": 9}, ADULT, EmployerLoad(), "INT_HOURS", "daily_hours"),
        ({"weekly_hours": 44}, ADULT, EmployerLoad(), "INT_HOURS", "weekly_hours"),
        ({"night_shift": True}, ADULT, EmployerLoad(), "INT_NIGHT_SHIFT", "night_shift"),
        ({"overtime": True}, ADULT, EmployerLoad(), "INT_OVERTIME", "overtime"),
        ({"holiday_work": True}, ADULT, EmployerLoad(), "INT_OVERTIME", "holiday_work"),
        ({}, ADULT, EmployerLoad(at_employer=40), "INT_QUOTA", "employer_staff"),
        ({}, ADULT, EmployerLoad(on_post=20), "INT_QUOTA", "employer_post_staff"),
        ({"monthly_pay": 3000}, ADULT, EmployerLoad(), "INT_PAY", "monthly_pay"),
        ({"pay_in_money": False}, ADULT, EmployerLoad(), "INT_PAY", "pay_in_money"),
        ({"fees_charged": True}, ADULT, EmployerLoad(), "INT_FEES", "fees_charged"),
        (
            {"planned_end_on": date(2026, 6, 30)},
            ADULT,
            EmployerLoad(),
            "INT_DURATION",
            "planned_end_on",
        ),
        ({}, ADULT, EmployerLoad(student_post_days=120), "INT_DURATION", "planned_end_on"),
        ({"venue_type": "entertainment"}, ADULT, EmployerLoad(), "INT_VENUE", "venue_type"),
        ({"venue_type": "internet_cafe"}, ADULT, EmployerLoad(), "INT_VENUE", "venue_type"),
        ({"via_intermediary": True}, ADULT, EmployerLoad(), "INT_VENUE", "via_intermediary"),
        ({"hazardous_work": True}, ADULT, EmployerLoad(), "INT_HAZARD", "hazardous_work"),
    ],
)
def test_each_rule_names_its_code_and_field(overrides, student, load, code, field) -> None:
    assert codes(started(**overrides), student, load) == {field: code}


def test_rules_for_post_internships_do_not_apply_to_cognitive_ones() -> None:
    young_first_year = StudentFacts(date(2010, 1, 1), 2025)
    cognitive = started(
        kind="cognitive",
        start_on=date(2025, 10, 1),
        planned_end_on=date(2025, 10, 14),
        agreement_signed=False,
        monthly_pay=0,
    )
    assert codes(cognitive, young_first_year) == {}


def test_the_policy_sets_each_severity() -> None:
    quota = check_started(started(), ADULT, EmployerLoad(at_employer=40), POLICY)
    insurance = check_started(started(insurance_policy_no=None), ADULT, EmployerLoad(), POLICY)
    assert [b.severity for b in quota] == ["flag"]  # "generally": not a rejection
    assert [b.severity for b in insurance] == ["reject"]


def test_messages_say_what_to_do() -> None:
    [breach] = check_started(started(monthly_pay=3000), ADULT, EmployerLoad(), POLICY)
    assert "80%" in breach.message and "3040" in breach.message
