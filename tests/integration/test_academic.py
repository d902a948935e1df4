"""ACADEMIC and the diploma in the certificates service, over the real database: the credit
bank's facts come from what the credits service emitted on `credits.events` (a better
retake replaces the failed attempt, a revoked credit stops counting), and a diploma is
accepted only for an eligible student — held until then, refused for a withdrawn one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sanzheng_credits.app import SPEC as CREDITS
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.testing import cloudevent, enrolled, lawful_post_internship
from tests.integration.conftest import TOPICS, canonical, processor, record
from tests.integration.test_credits import course, recognized, revoked


@pytest.fixture
async def credits(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, CREDITS):
        yield p


async def _outbox(proc: BatchProcessor, topic: str, since: int = 0) -> list[dict[str, Any]]:
    async with proc.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT value FROM outbox WHERE topic = $1 AND seq > $2 ORDER BY seq", topic, since
        )
    return [json.loads(bytes(r["value"])) for r in rows]


async def _forward_credits(credits: BatchProcessor, certificates: BatchProcessor) -> None:
    """What the credits service's relay would publish on credits.events, as certificates
    folds it."""
    events = await _outbox(credits, TOPICS.outbound("credits"))
    outcome = await certificates.process([record(TOPICS.outbound("credits"), e) for e in events])
    assert outcome.dead_lettered == 0
    async with credits.pool.acquire() as conn:
        await conn.execute("DELETE FROM outbox")


async def _requirement(certificates: BatchProcessor, student: str, code: str) -> tuple[bool, str]:
    async with certificates.pool.acquire() as conn:
        raw = await conn.fetchval(
            "SELECT requirements FROM decisions WHERE student_id = $1", student
        )
    [found] = [r for r in json.loads(raw) if r["code"] == code]
    return found["met"], found["detail"]


def _program(student: str, *, practice_score: int = 80) -> list[dict[str, Any]]:
    """3,000 class hours, 1,700 of them practice; 172 credits when every course passes."""
    return [
        course(student, "PUB", category="public-basic", class_hours=1000, practice_hours=200,
               credits=56),
        course(student, "PRO", class_hours=1300, practice_hours=800, credits=76),
        course(student, "PRA", category="practice", class_hours=700, practice_hours=700,
               credits=40, score=practice_score),
    ]  # fmt: skip


async def _enroll(student: str, *procs: BatchProcessor, **overrides: Any) -> None:
    event = canonical(enrolled(student, cohort=2023, birth_date="2007-03-01", **overrides), "x")
    for proc in procs:
        await proc.process([record(TOPICS.outbound("enrollment"), event)])


async def test_academic_counts_the_better_retake_and_drops_a_revoked_credit(
    credits: BatchProcessor, certificates: BatchProcessor
) -> None:
    await _enroll("S1", credits, certificates)
    inbound = TOPICS.inbound("credits")
    await credits.process(
        [record(inbound, e) for e in [*_program("S1", practice_score=50), recognized("S1", "T1")]]
    )
    await _forward_credits(credits, certificates)
    met, detail = await _requirement(certificates, "S1", "ACADEMIC")
    # The failed practice course: its hours were taught, its 40 credits not earned.
    assert (met, detail) == (
        False,
        "academic program not completed: credits 134 of 170; practice credits 0 of 30",
    )

    retake = course("S1", "PRA", category="practice", class_hours=700, practice_hours=700,
                    credits=40, score=75, term="2025-2")  # fmt: skip
    await credits.process([record(inbound, retake), record(inbound, revoked("S1", "T1"))])
    await _forward_credits(credits, certificates)
    assert await _requirement(certificates, "S1", "ACADEMIC") == (
        True,
        "academic program completed: credits 172 of 170; practice 56.6% of 3,000 class hours",
    )


def _the_rest(student: str) -> list[tuple[str, dict[str, Any]]]:
    """Every other requirement of the default policy met, as the other services announce
    it (canonical events) and as the school sends certificates."""

    def cert(no: str, kind: str, **more: Any) -> dict[str, Any]:
        data = {"certificate_no": no, "kind": kind, "title": kind, "issuer": "SCH001",
                "issued_on": "2026-06-20", **more}  # fmt: skip
        return cloudevent("certificate.earned", student, data)

    june = {"period_start": "2025-06-02", "period_end": "2025-06-30", "hours": 160,
            "site": "实训基地", "evaluation": "pass"}  # fmt: skip
    done = {"internship_id": "I1", "end_on": "2026-02-28", "hours": 640, "evaluation": "pass"}
    return [
        (TOPICS.outbound("labor-education"),
         canonical(cloudevent("labor_education.completed", student, june), "x")),
        (TOPICS.outbound("internship"),
         canonical(cloudevent("internship.started", student, lawful_post_internship("I1"),
                              dataversion="2"), "x")),
        (TOPICS.outbound("internship"),
         canonical(cloudevent("internship.completed", student, done), "x")),
        (TOPICS.inbound("certificates"),
         cert(f"SK-{student}", "skill", level="junior", issuer_type="x_certificate")),
        (TOPICS.inbound("certificates"), cert(f"Q-{student}", "quality")),
    ]  # fmt: skip


def _diploma(student: str) -> dict[str, Any]:
    data = {"certificate_no": f"DIP-{student}", "kind": "diploma", "title": "毕业证书",
            "issuer": "SCH001", "issued_on": "2026-06-30"}  # fmt: skip
    return cloudevent("certificate.earned", student, data)


async def test_a_diploma_before_the_courses_waits_and_is_accepted_once_eligible(
    credits: BatchProcessor, certificates: BatchProcessor
) -> None:
    await _enroll("S2", credits, certificates)
    await certificates.process([record(t, e) for t, e in _the_rest("S2")])
    diploma = _diploma("S2")
    # The school sent its last course and then the diploma; the diploma came first.
    await certificates.process([record(TOPICS.inbound("certificates"), diploma)])
    [held] = [
        e
        for e in await _outbox(certificates, TOPICS.outbound("certificates"))
        if e["type"] == "submission.held"
    ]
    assert held["data"]["id"] == diploma["id"]
    assert held["data"]["waiting_for"] == "graduation.eligibility_changed"
    assert not await _outbox(certificates, TOPICS.rejections)

    await credits.process([record(TOPICS.inbound("credits"), e) for e in _program("S2")])
    await _forward_credits(credits, certificates)
    async with certificates.pool.acquire() as conn:
        kind = await conn.fetchval("SELECT kind FROM certificates WHERE certificate_no = 'DIP-S2'")
        eligible = await conn.fetchval("SELECT eligible FROM decisions WHERE student_id = 'S2'")
        waiting = await conn.fetchval("SELECT count(*) FROM pending")
    assert (kind, eligible, waiting) == ("diploma", True, 0)
    announced = [e["type"] for e in await _outbox(certificates, TOPICS.outbound("certificates"))]
    assert "submission.released" in announced
    assert announced[-1] == "certificate.earned"


async def test_a_diploma_for_a_withdrawn_student_is_refused_and_says_what_is_missing(
    certificates: BatchProcessor,
) -> None:
    await _enroll("S3", certificates)
    await certificates.process([record(TOPICS.inbound("certificates"), _diploma("S3"))])
    withdrawn = canonical(
        cloudevent("student.withdrawn", "S3", {"on": "2025-03-01", "reason": "转学"}), "x"
    )
    await certificates.process([record(TOPICS.outbound("enrollment"), withdrawn)])
    [rejection] = await _outbox(certificates, TOPICS.rejections)
    [reason] = rejection["data"]["reasons"]
    assert (reason["code"], reason["field"]) == ("GRAD_NOT_ELIGIBLE", "kind")
    assert "missing: ENROLLED, ACADEMIC" in reason["message"]
    async with certificates.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM certificates") == 0
        assert await conn.fetchval("SELECT count(*) FROM pending") == 0


async def test_under_the_legacy_policy_a_diploma_is_itself_the_requirement(
    certificates: BatchProcessor,
) -> None:
    # Cohort 2018 graduated in 2021, before the plan: ENROLLED + DIPLOMA.
    event = canonical(enrolled("S4", cohort=2018, birth_date="2002-03-01"), "x")
    await certificates.process([record(TOPICS.outbound("enrollment"), event)])
    assert (await _requirement(certificates, "S4", "DIPLOMA"))[0] is False
    await certificates.process([record(TOPICS.inbound("certificates"), _diploma("S4"))])
    assert await _requirement(certificates, "S4", "DIPLOMA") == (
        True,
        "diploma (学历证书) held (DIP-S4)",
    )
    assert not await _outbox(certificates, TOPICS.rejections)


async def test_an_accepted_diploma_marks_the_student_graduated(
    enrollment: BatchProcessor,
) -> None:
    await enrollment.process([record(TOPICS.inbound("enrollment"), enrolled("S5", cohort=2023))])
    skill = cloudevent(
        "certificate.earned",
        "S5",
        {"certificate_no": "SK-S5", "kind": "skill", "title": "x", "level": "junior",
         "issuer_type": "x_certificate", "issuer": "org", "issued_on": "2026-05-10"},
    )  # fmt: skip
    accepted = [canonical(e, "certificates") for e in (skill, _diploma("S5"))]
    await enrollment.process([record(TOPICS.outbound("certificates"), e) for e in accepted])
    async with enrollment.pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM students WHERE student_id = 'S5'")
    assert status == "graduated"
    [graduated] = [
        e
        for e in await _outbox(enrollment, TOPICS.outbound("enrollment"))
        if e["type"] == "student.graduated"
    ]
    assert graduated["data"]["on"] == "2026-06-30"
    assert graduated["data"]["reason"] == "diploma DIP-S5"
