"""`GET /v1/students/{id}/learning-account` over the gateway's read model, fed with what the
credits service emitted (no broker): credits by category and source, the practice share,
the conversions with their evidence, each line linked to its event; tenancy as the other
student endpoints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sanzheng_credits.app import SPEC as CREDITS
from sanzheng_gateway import tokens
from sanzheng_gateway.api import create_api
from sanzheng_gateway.app import SPEC as GATEWAY
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.testing import enrolled
from tests.integration.conftest import TOPICS, canonical, processor, record
from tests.integration.test_credits import course, recognized, revoked


@pytest.fixture
async def credits(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, CREDITS):
        yield p


@pytest.fixture
async def gateway(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, GATEWAY):
        yield p


async def _ready() -> dict[str, bool]:
    return {"database": True}


async def _forward(credits: BatchProcessor, gateway: BatchProcessor) -> None:
    """What the outbox relay would publish, folded by the gateway."""
    async with credits.pool.acquire() as conn:
        rows = await conn.fetch("SELECT topic, value FROM outbox ORDER BY seq")
    records = [record(r["topic"], json.loads(bytes(r["value"]))) for r in rows]
    outcome = await gateway.process([r for r in records if r.topic == TOPICS.outbound("credits")])
    assert outcome.dead_lettered == 0


async def test_the_learning_account_links_every_line_to_its_event(
    credits: BatchProcessor, gateway: BatchProcessor
) -> None:
    enrollment = TOPICS.outbound("enrollment")
    for proc in (credits, gateway):
        await proc.process([record(enrollment, canonical(enrolled("S1"), "enrollment"))])
    conversion = recognized("S1", "CERT-1") | {
        "data": {
            "recognition_id": "CERT-1",
            "credits": 4,
            "kind": "certificate",
            "category": "professional",
            "course_code": "MEC201",
            "evidence": {"kind": "certificate", "reference": "X-2026-0001"},
            "approver": "教务处",
        }
    }
    inbound = TOPICS.inbound("credits")
    await credits.process(
        [
            record(inbound, e)
            for e in (
                course("S1", "PUB101", category="public-basic", practice_hours=0, credits=4),
                course("S1", "MEC101", score=50),  # failed: counts no credit
                course("S1", "MEC101", score=75, term="2025-2"),  # the better retake counts
                course("S1", "PRA101", category="practice", practice_hours=72),
                recognized("S1", "T1"),  # transfer, 2 credits
                recognized("S1", "P1")
                | {"data": recognized("S1", "P1")["data"] | {"kind": "prior_learning"}},
                conversion,
                revoked("S1", "P1"),
            )
        ]
    )
    await _forward(credits, gateway)

    api = create_api(lambda: gateway.pool, lambda: None, _ready)
    async with gateway.pool.acquire() as conn:
        mine = await tokens.create(conn, "counselor", "SCH001")
        theirs = await tokens.create(conn, "counselor", "SCH002")
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get(
            "/v1/students/S1/learning-account", headers={"Authorization": f"Bearer {mine}"}
        )
        other = await client.get(
            "/v1/students/S1/learning-account", headers={"Authorization": f"Bearer {theirs}"}
        )
        anonymous = await client.get("/v1/students/S1/learning-account")
    assert (other.status_code, anonymous.status_code) == (404, 401)
    assert answer.status_code == 200, answer.text
    account: dict[str, Any] = answer.json()
    assert account["credits_by_category"] == {
        "public-basic": 4.0,
        "professional": 4.0 + 2.0 + 4.0,  # the retake, the transfer, the conversion
        "practice": 4.0,
    }
    assert account["credits_by_source"] == {
        "course": 12.0,
        "transfer": 2.0,
        "certificate": 4.0,
        "prior_learning": 0.0,  # revoked
    }
    assert account["total_credits"] == 18.0
    # Counted attempts only: 72 + 72 + 72 class hours, 0 + 36 + 72 practice hours.
    assert (account["class_hours"], account["practice_hours"]) == (216.0, 108.0)
    assert account["practice_share"] == 0.5
    # Every line names the event it came from, and that event is in the timeline.
    async with gateway.pool.acquire() as conn:
        timeline = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM timeline")}
    lines = account["courses"] + account["recognitions"]
    assert len(lines) == 7 and all(line["event_id"] in timeline for line in lines)
    mec = sorted(
        (c for c in account["courses"] if c["course_code"] == "MEC101"), key=lambda c: c["score"]
    )
    assert [(c["score"], c["counted"]) for c in mec] == [(50, False), (75, True)]
    assert mec[1]["replaces"] == mec[0]["event_id"]
    [cert] = [r for r in account["recognitions"] if r["kind"] == "certificate"]
    assert cert["evidence"] == {"kind": "certificate", "reference": "X-2026-0001"}
    assert cert["course_code"] == "MEC201" and not cert["revoked"]
    [prior] = [r for r in account["recognitions"] if r["kind"] == "prior_learning"]
    assert prior["revoked"] and prior["revoked_by"] in timeline


async def test_the_learning_account_downloads_as_a_file_and_the_download_is_logged(
    credits: BatchProcessor, gateway: BatchProcessor
) -> None:
    enrollment = TOPICS.outbound("enrollment")
    for proc in (credits, gateway):
        await proc.process([record(enrollment, canonical(enrolled("S2"), "enrollment"))])
    await credits.process(
        [record(TOPICS.inbound("credits"), course("S2", "MEC101")), record(
            TOPICS.inbound("credits"), recognized("S2", "T1"))]
    )  # fmt: skip
    await _forward(credits, gateway)

    api = create_api(lambda: gateway.pool, lambda: None, _ready)
    async with gateway.pool.acquire() as conn:
        counselor = await tokens.create(conn, "counselor", "SCH001")
        admin = await tokens.create(conn, "admin", None)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        mine = {"Authorization": f"Bearer {counselor}"}
        viewed = await client.get("/v1/students/S2/learning-account", headers=mine)
        download = await client.get(
            "/v1/students/S2/learning-account", params={"format": "json"}, headers=mine
        )
        unknown = await client.get(
            "/v1/students/S2/learning-account", params={"format": "pdf"}, headers=mine
        )
        log = await client.get(
            "/v1/students/S2/access-log", headers={"Authorization": f"Bearer {admin}"}
        )
    assert download.status_code == 200 and unknown.status_code == 422
    assert download.headers["content-disposition"] == (
        'attachment; filename="learning-account-S2.json"'
    )
    # The file holds the account the API shows: 4 course credits and a 2-credit transfer.
    assert json.loads(download.content) == viewed.json()
    assert json.loads(download.content)["total_credits"] == 6.0
    actions = [(a["action"], a["outcome"]) for a in log.json()]
    assert ("learning-account", "allowed") in actions
    assert ("export", "allowed") in actions
