"""The credits service's batch processor against the real database: CRS_* rejections, a
retake that counts only when better, recognized and revoked credit, a submission held for
its enrollment, and a replay that rebuilds the same projection."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sanzheng_credits.app import SPEC as CREDITS
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.engine import table
from sanzheng_shared.engine.replay import replay
from sanzheng_shared.testing import cloudevent, enrolled
from tests.integration.conftest import POLICIES, TOPICS, canonical, outbox_events, processor, record


@pytest.fixture
async def credits(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, CREDITS):
        yield p


def course(student: str, code: str, **overrides: Any) -> dict[str, Any]:
    data = {
        "course_code": code,
        "course_name": f"课程 {code}",
        "category": "professional",
        "class_hours": 72,
        "practice_hours": 36,
        "credits": 4,
        "score": 80,
        "term": "2025-1",
    } | overrides
    return cloudevent("course.completed", student, data)


def recognized(student: str, rid: str) -> dict[str, Any]:
    data = {
        "recognition_id": rid,
        "credits": 2,
        "kind": "transfer",
        "evidence": {"kind": "transcript", "reference": "某职业学校 2024-117"},
        "approver": "教务处 王老师",
    }
    return cloudevent("credit.recognized", student, data)


def revoked(student: str, rid: str) -> dict[str, Any]:
    return cloudevent("credit.revoked", student, {"recognition_id": rid, "on": "2026-01-10"})


async def _projection(proc: BatchProcessor) -> dict[str, list[dict[str, Any]]]:
    async with proc.pool.acquire() as conn:
        courses = await conn.fetch("SELECT * FROM courses ORDER BY event_source, event_id")
        recognitions = await conn.fetch("SELECT * FROM recognitions ORDER BY recognition_id")
    return {"courses": [dict(r) for r in courses], "recognitions": [dict(r) for r in recognitions]}


async def test_the_credits_service_folds_courses_and_recognized_credit(
    credits: BatchProcessor,
) -> None:
    inbound = TOPICS.inbound("credits")
    enrollment = TOPICS.outbound("enrollment")
    await credits.process([record(enrollment, canonical(enrolled("S1"), "enrollment"))])
    first, retake, worse = (
        course("S1", "MEC101", score=55, term="2025-1"),
        course("S1", "MEC101", score=82, term="2025-2"),
        course("S1", "MEC101", score=70, term="2026-1"),
    )
    batch = [
        first,
        retake,
        worse,
        course("S1", "MEC102", practice_hours=80),  # CRS_HOURS
        course("S1", "MEC103", credits=8),  # CRS_CREDITS
        recognized("S1", "R1"),
        recognized("S1", "R1"),  # CRS_DUPLICATE
        revoked("S1", "R1"),
        revoked("S1", "R2"),  # never recognized
        course("S2", "MEC101"),  # held: S2's enrollment has not arrived
    ]
    await credits.process([record(inbound, e) for e in batch])
    await credits.process([record(enrollment, canonical(enrolled("S2"), "enrollment"))])

    out = await outbox_events(credits)
    completed = [e for e in out if e["type"] == "course.completed"]
    by_subject = {
        s: [(e["data"]["score"], e["data"]["counted"]) for e in completed if e["subject"] == s]
        for s in ("S1", "S2")
    }
    assert by_subject == {"S1": [(55, True), (82, True), (70, False)], "S2": [(80, True)]}
    s1 = [e for e in completed if e["subject"] == "S1"]
    assert s1[1]["data"]["replaces"] == s1[0]["id"]  # the better retake replaces the first
    assert s1[2]["data"]["duplicate_of"] == s1[1]["id"]  # the worse one counts as nothing
    codes = [
        r["code"] for e in out if e["type"] == "submission.rejected" for r in e["data"]["reasons"]
    ]
    assert codes == ["CRS_HOURS", "CRS_CREDITS", "CRS_DUPLICATE", "CRS_UNKNOWN_RECOGNITION"]
    [recognition] = [e for e in out if e["type"] == "credit.recognized"]
    [revocation] = [e for e in out if e["type"] == "credit.revoked"]
    assert revocation["data"]["revokes"] == recognition["id"]
    assert recognition["data"]["evidence"]["reference"] == "某职业学校 2024-117"
    assert {e["type"] for e in out} >= {"submission.held", "submission.released"}

    projection = await _projection(credits)
    counted = [(r["student_id"], float(r["score"])) for r in projection["courses"] if r["counted"]]
    assert sorted(counted) == [("S1", 82.0), ("S2", 80.0)]
    assert [(r["recognition_id"], r["revoked"]) for r in projection["recognitions"]] == [
        ("R1", True)
    ]

    # The event log folded again over empty state rebuilds the same projection.
    async with credits.pool.acquire() as conn:
        result = await replay(conn, CREDITS, topics=TOPICS, policies=POLICIES, emit=False)
    assert result.events > 0
    assert await _projection(credits) == projection


def certificate(event_type: str, student: str, number: str, **data: Any) -> dict[str, Any]:
    return canonical(
        cloudevent(event_type, student, {"certificate_no": number, **data}), "certificates"
    )


async def test_a_converted_certificate_gives_credit_and_its_revocation_takes_it_back(
    credits: BatchProcessor,
) -> None:
    topic = TOPICS.outbound("certificates")
    skill = {
        "kind": "skill",
        "title": "工业机器人操作与运维",  # in the shipped example table: 4 credits
        "level": "junior",
        "issuer_type": "x_certificate",
        "issuer": "某培训评价组织",
        "issued_on": "2026-05-20",
    }
    other = skill | {"title": "不在表中的证书"}
    await credits.process(
        [
            record(topic, certificate("certificate.earned", "C1", "X-1", **skill)),  # held
            record(topic, certificate("certificate.earned", "C1", "X-2", **other)),
        ]
    )
    await credits.process(
        [record(TOPICS.outbound("enrollment"), canonical(enrolled("C1"), "enrollment"))]
    )
    await credits.process(
        [
            record(topic, certificate("certificate.earned", "C1", "X-1", **skill)),  # again
            record(topic, certificate("certificate.revoked", "C1", "X-1", on="2026-06-01")),
        ]
    )
    out = await outbox_events(credits)
    [recognition] = [e for e in out if e["type"] == "credit.recognized"]
    assert recognition["data"]["evidence"] == {"kind": "certificate", "reference": "X-1"}
    assert (recognition["data"]["credits"], recognition["data"]["kind"]) == (4, "certificate")
    assert recognition["data"]["policy_version"].startswith("default-")
    [revocation] = [e for e in out if e["type"] == "credit.revoked"]
    assert revocation["data"]["revokes"] == recognition["id"]
    assert not [e for e in out if e["type"] == "submission.rejected"]
    projection = await _projection(credits)
    assert [(r["recognition_id"], r["revoked"]) for r in projection["recognitions"]] == [
        ("certificate:X-1", True)
    ]


async def test_submissions_held_in_one_batch_are_released_in_the_order_they_arrived(
    credits: BatchProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Provisional keys from -1: twelve holds cross from -9 to -10, where text order turns.
    monkeypatch.setattr(table, "_new_rows", itertools.count(1))
    codes = [f"MEC{n:03d}" for n in range(1, 13)]
    await credits.process([record(TOPICS.inbound("credits"), course("S9", c)) for c in codes])
    await credits.process(
        [record(TOPICS.outbound("enrollment"), canonical(enrolled("S9"), "enrollment"))]
    )
    out = await outbox_events(credits)
    held = [e["data"]["id"] for e in out if e["type"] == "submission.held"]
    released = [e["data"]["id"] for e in out if e["type"] == "submission.released"]
    completed = [e["data"]["course_code"] for e in out if e["type"] == "course.completed"]
    assert len(held) == 12
    assert released == held  # oldest first
    assert completed == codes
