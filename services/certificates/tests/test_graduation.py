"""The graduation decision: every requirement code met and not met, with its detail."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from sanzheng_certificates.academic import CourseFact
from sanzheng_certificates.graduation import Certificate, InternshipFact, StudentRecord, decide
from sanzheng_certificates.waivers import Waiver
from sanzheng_shared.policy import PolicyBook

POLICY = PolicyBook.load().for_student("SCH001", 2023, date(2026, 6, 30))

COMPLETE = StudentRecord(
    enrolled=True,
    status="enrolled",
    certificates=(
        Certificate("DIP-1", "diploma"),
        Certificate("SK-1", "skill", "junior", "x_certificate"),
        Certificate("Q-1", "quality"),
    ),
    internships=(InternshipFact("I-1", "post", "completed", 600, "pass"),),
    labor_completed=True,
    # A 3-year program: 3,000 class hours, 1,700 of them practice (56.6%), 172 credits.
    courses=(
        CourseFact("C-PUB", "public-basic", 1000, 200, 56, True),
        CourseFact("C-PRO", "professional", 1300, 800, 76, True),
        CourseFact("C-PRA", "practice", 700, 700, 40, True),
    ),
)


def results(record: StudentRecord) -> dict[str, tuple[bool, str]]:
    decision = decide(record, POLICY)
    return {r.code: (r.met, r.detail) for r in decision.requirements}


def test_a_complete_record_is_eligible_and_lists_every_requirement() -> None:
    decision = decide(COMPLETE, POLICY)
    assert decision.eligible
    assert [r.code for r in decision.requirements] == [
        "ENROLLED",
        "ACADEMIC",
        "SKILL_1X",
        "QUALITY",
        "LABOR_MONTH",
        "INTERNSHIP",
    ]
    assert decision.policy_version == "default-2026.2"


@pytest.mark.parametrize(
    ("change", "code", "detail"),
    [
        ({"enrolled": False, "status": None}, "ENROLLED", "no enrollment"),
        ({"status": "withdrawn"}, "ENROLLED", "withdrawn"),
        ({"status": "suspended"}, "ENROLLED", "suspended"),
        ({"courses": ()}, "ACADEMIC", "no completed course recorded; credits 0 of 170"),
        ({"courses": COMPLETE.courses[:2]}, "ACADEMIC", "credits 132 of 170"),
        (
            {"certificates": COMPLETE.certificates[:1] + COMPLETE.certificates[2:]},
            "SKILL_1X",
            "skill certificate missing: 0 of 1 at level junior or above",
        ),
        ({"certificates": COMPLETE.certificates[:2]}, "QUALITY", "missing"),
        ({"labor_completed": False}, "LABOR_MONTH", "not recorded"),
        ({"internships": ()}, "INTERNSHIP", "no completed post internship"),
        (
            {"internships": (InternshipFact("I-1", "post", "completed", 300, "pass"),)},
            "INTERNSHIP",
            "300 of 480",
        ),
        (
            {"internships": (InternshipFact("I-1", "cognitive", "completed", 600, "pass"),)},
            "INTERNSHIP",
            "no completed post internship",
        ),
        (
            {"internships": (InternshipFact("I-1", "post", "completed", 600, "fail"),)},
            "INTERNSHIP",
            "no completed post internship",
        ),
        (
            {"internships": (InternshipFact("I-1", "post", "terminated", 600, None),)},
            "INTERNSHIP",
            "no completed post internship",
        ),
        (
            {
                "rejected_internships": (("I-2", ("INT_INSURANCE",)),),
                "internships": (InternshipFact("I-1", "post", "completed", 300, "pass"),),
            },
            "INTERNSHIP",
            "I-2 (INT_INSURANCE)",
        ),
        ({"internships": (InternshipFact("I-1", "post", "cancelled"),)}, "INTERNSHIP", "no"),
    ],
)
def test_each_requirement_unmet_says_why(change, code, detail) -> None:
    decision = decide(replace(COMPLETE, **change), POLICY)
    assert not decision.eligible
    assert decision.missing == [code]
    assert detail in results(replace(COMPLETE, **change))[code][1]


def test_revoked_and_uncounted_skill_certificates_do_not_count() -> None:
    revoked = replace(
        COMPLETE,
        certificates=(
            Certificate("DIP-1", "diploma"),
            Certificate("SK-1", "skill", "junior", "x_certificate", revoked=True),
            Certificate("Q-1", "quality"),
        ),
    )
    assert results(revoked)["SKILL_1X"][0] is False
    old_kind = replace(
        COMPLETE,
        certificates=(
            Certificate("DIP-1", "diploma"),
            Certificate("SK-9", "skill", "senior", "vocational_qualification"),
            Certificate("Q-1", "quality"),
        ),
    )
    met, detail = results(old_kind)["SKILL_1X"]
    assert not met and "not counted: SK-9: senior/vocational_qualification" in detail


def test_an_exemption_is_a_waiver_that_names_the_approver() -> None:
    exemption = Waiver(
        "W-1", "LABOR_MONTH", "medical", "骨折", "李校长", "principal",
        date(2025, 5, 1), date(2026, 8, 31),
    )  # fmt: skip
    exempted = replace(COMPLETE, labor_completed=False, waivers=(exemption,))
    decision = decide(exempted, POLICY, date(2026, 6, 1))
    assert decision.eligible
    assert {r.code: r.detail for r in decision.requirements}["LABOR_MONTH"] == (
        "waived by 李校长 (principal), reason medical: 骨折, until 2026-08-31"
    )


def test_an_accepted_resubmission_closes_the_rejected_breach() -> None:
    fixed = replace(COMPLETE, rejected_internships=(("I-1", ("INT_INSURANCE",)),))
    assert decide(fixed, POLICY).eligible


def test_a_rejected_submission_is_outweighed_by_accepted_hours_or_closed_by_cancelling() -> None:
    # Before, one refused submission kept INTERNSHIP unmet for ever (issue 11, point 2).
    refused = (("I-2", ("INT_INSURANCE",)),)
    assert decide(replace(COMPLETE, rejected_internships=refused), POLICY).eligible
    short = (InternshipFact("I-1", "post", "completed", 300, "pass"),)
    cancelled = (*short, InternshipFact("I-2", "post", "cancelled"))
    record = replace(COMPLETE, rejected_internships=refused, internships=cancelled)
    assert "I-2" not in results(record)["INTERNSHIP"][1]


def test_a_graduated_student_stays_enrolled_for_the_decision() -> None:
    assert results(replace(COMPLETE, status="graduated"))["ENROLLED"][0] is True


def test_the_legacy_policy_asks_only_for_enrollment_and_a_diploma() -> None:
    legacy = PolicyBook.load().for_student("SCH001", 2018, date(2021, 6, 30))
    bare = replace(COMPLETE, certificates=COMPLETE.certificates[:1], internships=())
    decision = decide(replace(bare, labor_completed=False), legacy)
    assert decision.eligible and decision.policy_version == "legacy-2019.1"
    assert [r.code for r in decision.requirements] == ["ENROLLED", "DIPLOMA"]
