"""Every CRS_* rule: a submission that keeps it and one that breaks it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from sanzheng_credits.rules import (
    better_than,
    check_course,
    credit_range,
    recognition_twice,
    revocable,
)
from sanzheng_shared.events.catalogue import CourseCompleted
from sanzheng_shared.policy.model import CreditsPolicy

POLICY = CreditsPolicy()


def course(**overrides: Any) -> CourseCompleted:
    fields: dict[str, Any] = {
        "course_code": "MEC101",
        "course_name": "机械制图",
        "category": "professional",
        "class_hours": 72,
        "practice_hours": 36,
        "credits": 4,
        "score": 82,
        "term": "2025-1",
    }
    fields.update(overrides)
    return CourseCompleted.model_validate(fields)


def test_a_course_with_consistent_hours_and_credits_is_valid() -> None:
    assert check_course(course(), POLICY) == []
    assert check_course(course(practice_hours=72, category="practice"), POLICY) == []


def test_crs_hours_practice_hours_are_part_of_the_class_hours() -> None:
    reasons = check_course(course(practice_hours=80), POLICY)
    assert [(r.code, r.field) for r in reasons] == [("CRS_HOURS", "practice_hours")]


@pytest.mark.parametrize(
    ("class_hours", "credits", "ok"),
    [
        (72, 4, True),  # 18 hours a credit
        (64, 4, True),  # 16
        (36, 2, True),
        (36, 1.5, True),  # 2-2.25, within half a credit
        (36, 1, False),
        (72, 6, False),
        (16, 1, True),
        (16, 2, False),
    ],
)
def test_crs_credits_16_to_18_class_hours_make_a_credit(class_hours, credits, ok) -> None:
    reasons = check_course(
        course(class_hours=class_hours, practice_hours=0, credits=credits), POLICY
    )
    assert [(r.code, r.field) for r in reasons] == ([] if ok else [("CRS_CREDITS", "credits")])


def test_the_hours_per_credit_come_from_the_policy() -> None:
    strict = CreditsPolicy(min_hours_per_credit=18, max_hours_per_credit=18, tolerance=0)
    assert credit_range(72, strict) == (4, 4)
    assert [r.code for r in check_course(course(class_hours=64), strict)] == ["CRS_CREDITS"]
    with pytest.raises(ValidationError):
        CreditsPolicy(min_hours_per_credit=20, max_hours_per_credit=18)


def test_a_result_is_a_score_or_passed() -> None:
    assert course(score=59).passed is False
    assert course(score=60).passed is True
    assert course(score=None, passed=True).passed is True
    with pytest.raises(ValidationError):
        course(score=None)


def row(c: CourseCompleted) -> dict[str, Any]:
    return {"passed": c.passed, "score": c.score}


def test_crs_duplicate_the_same_course_counts_once_with_the_better_result() -> None:
    first = course(score=55)
    assert better_than(first, None)  # the first attempt counts
    assert better_than(course(score=75), row(first))  # a better retake replaces it
    assert not better_than(course(score=50), row(course(score=75)))  # a worse one does not
    assert not better_than(course(score=75), row(course(score=75)))  # a tie keeps the first
    assert better_than(course(score=None, passed=True), row(first))  # a pass beats a fail
    assert not better_than(course(score=None, passed=True), row(course(score=61)))


def test_crs_duplicate_a_recognized_credit_counts_once() -> None:
    assert recognition_twice("R1", None) == []
    assert recognition_twice("R1", {"revoked": True}) == []  # recognized again after a revoke
    reasons = recognition_twice("R1", {"revoked": False})
    assert [(r.code, r.field) for r in reasons] == [("CRS_DUPLICATE", "recognition_id")]


def test_only_a_recognized_credit_can_be_revoked() -> None:
    assert revocable("R1", {"revoked": False}) == []
    for current in (None, {"revoked": True}):
        reasons = revocable("R1", current)
        assert [r.code for r in reasons] == ["CRS_UNKNOWN_RECOGNITION"]


def test_the_conversion_table_converts_a_matching_skill_certificate() -> None:
    policy = CreditsPolicy.model_validate(
        {
            "conversions": [
                {"title": "Web前端开发", "min_level": "intermediate", "credits": 6},
                {"title": "焊工", "issuer_type": "vocational_qualification", "credits": 2},
            ]
        }
    )
    web = policy.conversion_for("Web前端开发", "senior", "x_certificate")
    assert web is not None and web.credits == 6
    assert policy.conversion_for("Web前端开发", "junior", "x_certificate") is None  # below
    assert policy.conversion_for("焊工", "junior", "x_certificate") is None  # other issuer
    assert policy.conversion_for("焊工", "junior", "vocational_qualification") is not None
    assert policy.conversion_for("电工", "senior", "x_certificate") is None  # not in the table


def test_the_shipped_example_table_is_valid() -> None:
    from sanzheng_shared.policy import PolicyBook

    book = PolicyBook.load(None)
    default = book.for_student("SCH001", 2024, date(2027, 6, 30))
    assert default.credits.conversion_for("工业机器人操作与运维", "junior", "x_certificate")
