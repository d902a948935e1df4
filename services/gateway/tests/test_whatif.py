"""What-if (issue 13): the certificates service's fold, run in memory over a student's
timeline plus hypothetical events, under the policy in force or a named version."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sanzheng_gateway import whatif
from sanzheng_shared.policy import PolicyBook
from sanzheng_shared.testing import cloudevent, enrolled, lawful_post_internship

STUDENT = whatif.Student("S1", "SCH001", 2023, date(2007, 3, 1))
BOOK = PolicyBook.load()


def _row(event: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in event["data"].items() if k != "birth_date"}  # as the timeline
    return {
        "event_id": event["id"],
        "school_id": "SCH001",
        "type": event["type"],
        "time": None,
        "data": data,
    }


def course(code: str, category: str, hours: int, practice: int, credits: int) -> dict[str, Any]:
    data = {
        "course_code": code,
        "course_name": f"课程 {code}",
        "category": category,
        "class_hours": hours,
        "practice_hours": practice,
        "credits": credits,
        "score": 80,
        "term": "2025-1",
    }
    return cloudevent("course.completed", "S1", data)


PRACTICE_COURSE = course("PRA", "practice", 700, 700, 40)


def timeline(*, practice_course: bool = True) -> list[dict[str, Any]]:
    events = [
        enrolled("S1", cohort=2023, birth_date="2007-03-01"),
        # As the credits service announced them (counted); 3,000 class hours, 172 credits.
        course("PUB", "public-basic", 1000, 200, 56),
        course("PRO", "professional", 1300, 800, 76),
        *([PRACTICE_COURSE] if practice_course else []),
        cloudevent(
            "labor_education.completed",
            "S1",
            {
                "period_start": "2025-06-02",
                "period_end": "2025-06-30",
                "hours": 160,
                "site": "实训基地",
                "evaluation": "pass",
            },
        ),
        cloudevent("internship.started", "S1", lawful_post_internship("I1")),
        cloudevent(
            "internship.completed",
            "S1",
            {"internship_id": "I1", "end_on": "2026-02-28", "hours": 640, "evaluation": "pass"},
        ),
        cloudevent(
            "certificate.earned",
            "S1",
            {
                "certificate_no": "D1",
                "kind": "diploma",
                "title": "毕业证书",
                "issuer": "SCH001",
                "issued_on": "2026-06-20",
            },
        ),
        cloudevent(
            "certificate.earned",
            "S1",
            {
                "certificate_no": "Q1",
                "kind": "quality",
                "title": "素质融合证书",
                "issuer": "SCH001",
                "issued_on": "2026-06-20",
            },
        ),
    ]
    return [_row(e) for e in events]


SKILL = {
    "type": "certificate.earned",
    "data": {
        "certificate_no": "X1",
        "kind": "skill",
        "title": "Web 前端开发 1+X",
        "level": "intermediate",
        "issuer_type": "x_certificate",
        "issuer": "某评价组织",
        "issued_on": "2026-05-10",
    },
}


def _missing(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["requirements"] if not r["met"]]


def test_the_timeline_alone_gives_todays_decision() -> None:
    decision = whatif.what_if(BOOK, STUDENT, timeline(), [], None)
    assert decision["policy_version"] == "default-2026.2"
    assert _missing(decision) == ["SKILL_1X"]


def test_a_hypothetical_skill_certificate_makes_the_student_eligible() -> None:
    extra = whatif.hypothetical([SKILL], STUDENT)
    decision = whatif.what_if(BOOK, STUDENT, timeline(), extra, None)
    assert decision["eligible"] is True
    today = whatif.what_if(BOOK, STUDENT, timeline(), [], None)
    [change] = whatif.changes(today, decision)
    assert change["code"] == "SKILL_1X"
    assert (change["met_before"], change["met_after"]) == (False, True)


def test_a_hypothetical_course_completes_the_academic_program() -> None:
    short = timeline(practice_course=False)
    today = whatif.what_if(BOOK, STUDENT, short, [], None)
    assert _missing(today) == ["ACADEMIC", "SKILL_1X"]
    extra = whatif.hypothetical(
        [{"type": "course.completed", "data": PRACTICE_COURSE["data"]}], STUDENT
    )
    decision = whatif.what_if(BOOK, STUDENT, short, extra, None)
    assert _missing(decision) == ["SKILL_1X"]
    [change] = whatif.changes(today, decision)
    assert change["code"] == "ACADEMIC" and "credits 132 of 170" in change["detail_before"]


def test_another_policy_version_and_an_unknown_one() -> None:
    legacy = whatif.what_if(BOOK, STUDENT, timeline(), [], "legacy-2019.1")
    assert legacy["policy_version"] == "legacy-2019.1" and legacy["eligible"] is True
    with pytest.raises(whatif.WhatIfError) as caught:
        whatif.what_if(BOOK, STUDENT, timeline(), [], "no-such-policy")
    assert caught.value.code == "POLICY_VERSION_UNKNOWN"


def test_a_revocation_and_a_shorter_internship_are_refolded() -> None:
    extra = whatif.hypothetical(
        [
            {
                "type": "certificate.revoked",
                "data": {"certificate_no": "Q1", "reason": "x", "on": "2026-06-25"},
            },
            {
                "type": "internship.completed",
                "data": {
                    "internship_id": "I1",
                    "end_on": "2026-02-28",
                    "hours": 100,
                    "evaluation": "pass",
                },
            },
        ],
        STUDENT,
    )
    decision = whatif.what_if(BOOK, STUDENT, timeline(), extra, None)
    assert set(_missing(decision)) == {"SKILL_1X", "QUALITY", "INTERNSHIP"}


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({"type": "student.enrolled", "subject": "S2", "data": {}}, "SUBJECT_MISMATCH"),
        ({"type": "grade.posted", "data": {}}, "TYPE_UNSUPPORTED"),
        ({"type": "certificate.earned", "data": {"kind": "skill"}}, "DATA_INVALID"),
        ({"type": "certificate.earned", "specversion": "0.3", "data": {}}, "EVENT_INVALID"),
        ("not an object", "EVENT_INVALID"),
    ],
)
def test_bad_hypothetical_events_are_refused_with_a_code(event: Any, code: str) -> None:
    with pytest.raises(whatif.WhatIfError) as caught:
        whatif.hypothetical([event], STUDENT)
    assert caught.value.code == code
