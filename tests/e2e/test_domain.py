"""The four domain services running together on the real broker and database, fed as a
school's system would feed them (SPEC §2, §3, §4.3)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer

from sanzheng_shared.testing import (
    cloudevent,
    enrolled,
    eventually,
    fetch,
    lawful_post_internship,
    read_events,
)
from tests.e2e.conftest import Domain

pytestmark = pytest.mark.slow


def sid() -> str:
    return f"STU{uuid.uuid4().hex[:10].upper()}"


def post_internship(student: str, internship_id: str, **overrides: Any) -> dict[str, Any]:
    data = lawful_post_internship(internship_id)
    data.update(overrides)
    return cloudevent("internship.started", student, data) | {"dataversion": "2"}


def completed(student: str, internship_id: str, hours: float = 640) -> dict[str, Any]:
    return cloudevent(
        "internship.completed",
        student,
        {
            "internship_id": internship_id,
            "end_on": "2026-02-28",
            "hours": hours,
            "evaluation": "pass",
        },
    )


def labor(student: str, start: str = "2025-06-02", end: str = "2025-06-30") -> dict[str, Any]:
    return cloudevent(
        "labor_education.completed",
        student,
        {
            "period_start": start,
            "period_end": end,
            "hours": 160,
            "site": "实训基地",
            "evaluation": "pass",
        },
    )


def certificate(student: str, kind: str, number: str | None = None, **extra: Any) -> dict[str, Any]:
    data = {
        "certificate_no": number or f"{kind}-{student}",
        "kind": kind,
        "title": kind,
        "issuer": "SCH001",
        "issued_on": "2026-06-20",
        **extra,
    }
    if kind == "skill":
        data |= {"level": "junior", "issuer_type": "x_certificate", "issued_on": "2025-11-15"}
    return cloudevent("certificate.earned", student, data)


def program(student: str) -> list[tuple[str, dict[str, Any]]]:
    """The academic program (学业合格): 3,000 class hours, 1,700 of them practice, 172
    credits, in three big courses."""
    courses = [
        ("PUB", "public-basic", 1000, 200, 56),
        ("PRO", "professional", 1300, 800, 76),
        ("PRA", "practice", 700, 700, 40),
    ]
    return [
        (
            "credits",
            cloudevent(
                "course.completed",
                student,
                {
                    "course_code": code,
                    "course_name": f"课程 {code}",
                    "category": category,
                    "class_hours": hours,
                    "practice_hours": practice,
                    "credits": credits,
                    "score": 80,
                    "term": "2025-1",
                },
            ),
        )
        for code, category, hours, practice, credits in courses
    ]


def lifecycle(student: str) -> list[tuple[str, dict[str, Any]]]:
    """A complete cohort-2023 lifecycle: eligible under the default policy; the school sends
    the diploma with the rest (it waits for the courses when it overtakes them)."""
    internship_id = f"INT-{student}"
    return [
        (
            "enrollment",
            enrolled(student, cohort=2023, birth_date="2007-03-01", enrolled_on="2023-09-01"),
        ),
        *program(student),
        ("labor-education", labor(student)),
        ("internship", post_internship(student, internship_id)),
        ("internship", completed(student, internship_id)),
        ("certificates", certificate(student, "diploma")),
        ("certificates", certificate(student, "skill")),
        ("certificates", certificate(student, "quality")),
    ]


async def test_a_complete_lifecycle_from_librdkafka_is_eligible(domain: Domain) -> None:
    student = sid()
    producer = Producer({"bootstrap.servers": domain.settings.kafka_bootstrap, "acks": "all"})
    for topic_domain, event in lifecycle(student):
        producer.produce(
            domain.topics.inbound(topic_domain),
            key=student,
            value=json.dumps(event, ensure_ascii=False).encode(),
            headers={"content-type": "application/cloudevents+json"},
        )
    assert producer.flush(10) == 0

    decision = await domain.wait_missing(student, set())
    assert decision["eligible"] is True
    assert [r["code"] for r in decision["requirements"]] == [
        "ENROLLED",
        "ACADEMIC",
        "SKILL_1X",
        "QUALITY",
        "LABOR_MONTH",
        "INTERNSHIP",
    ]
    assert domain.settings.kafka_bootstrap
    announced = [
        e
        for e in await read_events(domain.settings.kafka_bootstrap, domain.topics.graduation)
        # The topic also carries the early warnings (student.at_risk, …).
        if e["subject"] == student and e["type"] == "graduation.eligibility_changed"
    ]
    assert announced[-1]["data"]["eligible"] is True
    assert announced[-1]["data"]["policy_version"] == "default-2026.2"
    assert announced[-1]["schoolid"] == "SCH001"
    # Never eligible before every fact was in; once eligible, it stays (accepting the held
    # diploma graduates the student, which announces the decision again, still eligible).
    flags = [a["data"]["eligible"] for a in announced]
    assert flags == sorted(flags), flags


async def test_what_is_missing_is_explained(domain: Domain) -> None:
    student = sid()
    for d, e in lifecycle(student):
        if e["data"].get("kind") != "skill":
            await domain.send(d, e)
    decision = await domain.wait_missing(student, {"SKILL_1X"})
    [skill] = [r for r in decision["requirements"] if r["code"] == "SKILL_1X"]
    assert skill["detail"] == "skill certificate missing: 0 of 1 at level junior or above"


async def test_enrollment_rejects_an_invalid_national_id(domain: Domain) -> None:
    student = sid()
    await domain.send("enrollment", enrolled(student, national_id="110105200805011234"))
    [rejection] = await eventually(lambda: domain.rejections(student))
    [reason] = rejection["data"]["reasons"]
    assert (reason["code"], reason["field"]) == ("ENR_NATIONAL_ID", "national_id")
    assert "110105200805011234" not in json.dumps(rejection)


async def test_internship_rejects_a_breach_and_flags_a_quota(domain: Domain) -> None:
    student = sid()
    await domain.send("enrollment", enrolled(student, cohort=2023, birth_date="2007-03-01"))
    await domain.send(
        "internship",
        post_internship(student, "I-BAD", insurance_policy_no=None, overtime=True),
        post_internship(student, "I-FLAG", employer_staff=5, monthly_pay=3200),
    )
    [rejection] = await eventually(lambda: domain.rejections(student))
    reasons = {(r["code"], r["field"]) for r in rejection["data"]["reasons"]}
    assert reasons == {("INT_INSURANCE", "insurance_policy_no"), ("INT_OVERTIME", "overtime")}
    assert rejection["data"]["refers_to"] == {"internship_id": "I-BAD", "kind": "post"}

    assert domain.settings.kafka_bootstrap
    accepted = await eventually(
        lambda: read_events(domain.settings.kafka_bootstrap, domain.topics.outbound("internship")),
        lambda es: any(e["subject"] == student and e["type"] == "internship.started" for e in es),
    )
    # (it may first have been held until the enrollment reached the internship service)
    [flagged] = [
        e for e in accepted if e["subject"] == student and e["type"] == "internship.started"
    ]
    assert flagged["data"]["internship_id"] == "I-FLAG"
    assert [f["code"] for f in flagged["data"]["flags"]] == ["INT_QUOTA"]
    decision = await domain.wait_missing(
        student, {"ACADEMIC", "SKILL_1X", "QUALITY", "LABOR_MONTH", "INTERNSHIP"}
    )
    [internship] = [r for r in decision["requirements"] if r["code"] == "INTERNSHIP"]
    assert "I-BAD (INT_INSURANCE, INT_OVERTIME)" in internship["detail"]


async def test_labor_education_rejects_a_month_outside_june(domain: Domain) -> None:
    student = sid()
    await domain.send("enrollment", enrolled(student, cohort=2023))
    await domain.send("labor-education", labor(student, "2025-05-01", "2025-05-31"))
    [rejection] = await eventually(lambda: domain.rejections(student))
    assert [(r["code"], r["field"]) for r in rejection["data"]["reasons"]] == [
        ("LAB_JUNE", "period_start")
    ]


async def test_certificates_reject_a_number_held_by_another_student(domain: Domain) -> None:
    first, second = sid(), sid()
    await domain.send("certificates", certificate(first, "quality", "Q-SHARED"))
    await domain.wait_missing(
        first, {"ENROLLED", "ACADEMIC", "SKILL_1X", "LABOR_MONTH", "INTERNSHIP"}
    )
    await domain.send("certificates", certificate(second, "quality", "Q-SHARED"))
    [rejection] = await eventually(lambda: domain.rejections(second))
    assert [(r["code"], r["field"]) for r in rejection["data"]["reasons"]] == [
        ("CERT_DUPLICATE_NO", "certificate_no")
    ]


async def test_events_before_the_enrollment_are_held_then_count(domain: Domain) -> None:
    student = sid()
    events = lifecycle(student)
    for d, e in reversed(events[1:]):  # completion before start, all before the enrollment
        await domain.send(d, e)
    held = await eventually(
        lambda: fetch(
            domain.url, "SELECT waiting_for FROM internship.pending WHERE student_id = $1", student
        ),
        lambda rows: len(rows) == 2,
    )
    assert {r["waiting_for"] for r in held} == {
        "student.enrolled",
        f"internship.started INT-{student}",
    }
    # Certificates count at once; the internship and labor month wait for the school year,
    # the courses for the student's policy, the diploma for every requirement.
    await domain.wait_missing(student, {"ENROLLED", "ACADEMIC", "LABOR_MONTH", "INTERNSHIP"})

    await domain.send(*events[0])
    await domain.wait_missing(student, set())
    diploma = await eventually(
        lambda: fetch(
            domain.url,
            "SELECT certificate_no FROM certificates.certificates"
            " WHERE student_id = $1 AND kind = 'diploma'",
            student,
        ),
        lambda rows: len(rows) == 1,
    )
    assert diploma[0]["certificate_no"] == f"diploma-{student}"
    assert (
        await fetch(domain.url, "SELECT 1 FROM internship.pending WHERE student_id = $1", student)
        == []
    )


async def test_withdrawal_and_revocation_take_eligibility_away(domain: Domain) -> None:
    student = sid()
    # No diploma: an accepted one graduates the student, who can no longer withdraw.
    for d, e in lifecycle(student):
        if e["data"].get("kind") != "diploma":
            await domain.send(d, e)
    await domain.wait_missing(student, set())
    await domain.send(
        "certificates",
        cloudevent(
            "certificate.revoked",
            student,
            {"certificate_no": f"skill-{student}", "reason": "考核舞弊", "on": "2026-01-10"},
        ),
    )
    await domain.wait_missing(student, {"SKILL_1X"})
    await domain.send(
        "enrollment",
        cloudevent("student.withdrawn", student, {"on": "2026-03-01", "reason": "转学"}),
    )
    await domain.wait_missing(student, {"SKILL_1X", "ENROLLED"})
