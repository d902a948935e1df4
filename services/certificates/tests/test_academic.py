"""ACADEMIC (学业合格): credits against the program's minimum, the course categories, and
practice hours above half of the class hours; a keeping and a breaking case for each."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sanzheng_certificates.academic import CourseFact, CreditFact, assess, practice_hours_needed
from sanzheng_certificates.academic import standing as standing_of
from sanzheng_certificates.graduation import StudentRecord, decide, missing_for_diploma
from sanzheng_shared.policy import PolicyBook

BOOK = PolicyBook.load()
POLICY = BOOK.for_student("SCH001", 2023, date(2026, 6, 30))
ACADEMIC = POLICY.requirement("ACADEMIC")
assert ACADEMIC is not None

PUB = CourseFact("C-PUB", "public-basic", 1000, 200, 56, True)
PRO = CourseFact("C-PRO", "professional", 1300, 800, 76, True)
PRA = CourseFact("C-PRA", "practice", 700, 700, 40, True)
PROGRAM = (PUB, PRO, PRA)  # 3,000 class hours, 1,700 practice, 172 credits


def academic(courses=PROGRAM, credits=(), major=None, requirement=ACADEMIC):  # type: ignore[no-untyped-def]
    return assess(tuple(courses), tuple(credits), major, requirement)


def test_a_completed_program_is_met_and_says_its_figures() -> None:
    assert academic() == (
        True,
        "academic program completed: credits 172 of 170; practice 56.6% of 3,000 class hours",
    )


def test_credits_below_the_programs_minimum_are_not_enough() -> None:
    fewer = (PUB, replace(PRO, credits=70), PRA)  # 166 credits
    met, detail = academic(fewer)
    assert not met and detail == "academic program not completed: credits 166 of 170"


def test_a_major_may_ask_for_more_credits() -> None:
    nursing = ACADEMIC.model_copy(update={"min_credits_by_major": {"720201": 180}})
    assert academic(requirement=nursing, major="660701")[0]
    met, detail = academic(requirement=nursing, major="720201")
    assert not met and "credits 172 of 180" in detail


def test_each_course_category_needs_its_credits() -> None:
    # 172 credits in all, but only 20 of the 30 practice-category credits.
    lopsided = (PUB, replace(PRO, credits=96), replace(PRA, credits=20))
    met, detail = academic(lopsided)
    assert not met and detail == "academic program not completed: practice credits 20 of 30"


def test_practice_must_be_more_than_half_of_the_class_hours() -> None:
    # 1,490 practice hours of 3,000: 49.6%; 21 more practice hours give 1,511 of 3,021.
    theory = (PUB, replace(PRO, practice_hours=590), PRA)
    met, detail = academic(theory)
    assert not met
    assert detail == (
        "academic program not completed: practice 49.6% of 3,000 class hours, "
        "21 more practice hours needed"
    )
    assert (1490 + 20) / (3000 + 20) <= 0.5 < (1490 + 21) / (3000 + 21)


def test_exactly_half_is_not_more_than_half() -> None:
    half = standing_of((CourseFact("C", "practice", 100, 50, 6, True),), ())
    assert practice_hours_needed(half, 0.5) == 1
    above = standing_of((CourseFact("C", "practice", 100, 51, 6, True),), ())
    assert practice_hours_needed(above, 0.5) == 0


def test_a_student_without_courses_is_told_so() -> None:
    met, detail = academic(())
    assert not met
    assert detail.startswith("academic program not completed: no completed course recorded;")


def test_a_retake_counts_once_and_a_replaced_attempt_not_at_all() -> None:
    failed = CourseFact("C-PRA-1", "practice", 700, 700, 40, False, counted=True)
    retake = CourseFact("C-PRA-2", "practice", 700, 700, 40, True, replaces="C-PRA-1")
    worse = CourseFact("C-PRA-3", "practice", 700, 700, 40, False, counted=False)
    # Whatever the order the facts arrived in, the replaced attempt does not count.
    for courses in ((PUB, PRO, failed, retake, worse), (retake, worse, PUB, failed, PRO)):
        s = standing_of(courses, ())
        assert (s.credits, s.class_hours) == (172, 3000)
    # Only the failed attempt: its hours were taught, its credits not earned.
    s = standing_of((PUB, PRO, failed), ())
    assert (s.credits, s.class_hours) == (132, 3000)


def test_recognized_credit_counts_until_revoked() -> None:
    short = (PUB, replace(PRO, credits=70), PRA)  # 166 credits
    transfer = CreditFact("R-1", "professional", 4)
    assert academic(short, [transfer])[0]
    met, detail = academic(short, [replace(transfer, revoked=True)])
    assert not met and "credits 166 of 170" in detail


def test_under_the_default_policy_academic_replaces_the_diploma() -> None:
    codes = [r.code for r in POLICY.requirements]
    assert "ACADEMIC" in codes and "DIPLOMA" not in codes
    assert POLICY.version == "default-2026.2"


def test_the_diploma_check_leaves_out_the_diploma_itself_under_the_legacy_policy() -> None:
    legacy = BOOK.for_student("SCH001", 2018, date(2021, 6, 30))
    enrolled = StudentRecord(enrolled=True, status="enrolled")
    assert decide(enrolled, legacy).missing == ["DIPLOMA"]
    assert missing_for_diploma(enrolled, legacy) == []
    assert missing_for_diploma(StudentRecord(), legacy) == ["ENROLLED"]
    assert "ACADEMIC" in missing_for_diploma(enrolled, POLICY)
