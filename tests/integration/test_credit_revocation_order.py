"""SPEC §2.6 and §4.3: a revoked certificate revokes the credit it gave, whatever the order
the two arrive in. Before, a revocation that came first was passed over, and the
certificate converted to credit when it came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sanzheng_credits.app import SPEC as CREDITS
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.testing import cloudevent, enrolled

from .conftest import TOPICS, canonical, outbox_events, processor, record

SKILL = {
    "kind": "skill",
    "title": "工业机器人操作与运维",  # in the default policy's conversion table
    "level": "junior",
    "issuer_type": "x_certificate",
    "issuer": "某评价组织",
    "issued_on": "2026-03-01",
}


@pytest.fixture
async def credits(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, CREDITS):
        yield p


def _facts(student: str) -> tuple[Any, Any, Any]:
    topic = TOPICS.outbound("certificates")
    no = f"X-{student}"
    earned = cloudevent("certificate.earned", student, SKILL | {"certificate_no": no})
    revoked = cloudevent("certificate.revoked", student, {"certificate_no": no, "on": "2026-04-01"})
    known = canonical(enrolled(student), "enrollment")
    return (
        record(TOPICS.outbound("enrollment"), known),
        record(topic, canonical(earned, "certificates")),
        record(topic, canonical(revoked, "certificates")),
    )


async def _credit(credits: BatchProcessor, student: str) -> list[str]:
    return [
        e["type"]
        for e in await outbox_events(credits)
        if e["subject"] == student and e["type"] in ("credit.recognized", "credit.revoked")
    ]


async def test_a_certificate_revoked_before_it_came_gives_no_credit(
    credits: BatchProcessor,
) -> None:
    known, earned, revoked = _facts("CR-1")
    await credits.process([known, revoked])
    await credits.process([earned])
    assert await _credit(credits, "CR-1") == []


async def test_a_certificate_revoked_after_it_came_takes_its_credit_back(
    credits: BatchProcessor,
) -> None:
    known, earned, revoked = _facts("CR-2")
    await credits.process([known, earned])
    await credits.process([revoked])
    assert await _credit(credits, "CR-2") == ["credit.recognized", "credit.revoked"]
