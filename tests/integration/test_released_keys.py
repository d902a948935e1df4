"""A submission held for its student and released by a later batch takes the keys shared
between students that it would have taken on arrival: the certificate number it claims,
the employer whose interns its start counts. Before, only the keys of the releasing
batch's own events were locked and loaded, so a released diploma did not see the number
taken meanwhile, and a released start counted none of the employer's interns outside the
batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sanzheng_internship.app import SPEC as INTERNSHIP
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.testing import cloudevent, enrolled, lawful_post_internship
from tests.integration.conftest import TOPICS, canonical, outbox_events, processor, record


@pytest.fixture
async def internship(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, INTERNSHIP):
        yield p


def _known(student: str) -> Any:
    return record(TOPICS.outbound("enrollment"), canonical(enrolled(student), "enrollment"))


def _reasons(events: list[dict[str, Any]], subject: str) -> list[str]:
    return [
        r["code"]
        for e in events
        if e["type"] == "submission.rejected" and e.get("subject") == subject
        for r in e["data"]["reasons"]
    ]


async def test_a_released_diploma_whose_number_was_taken_meanwhile_is_refused(
    certificates: BatchProcessor,
) -> None:
    inbound = TOPICS.inbound("certificates")
    diploma = cloudevent(
        "certificate.earned",
        "LATE",
        {
            "certificate_no": "DUP-7",
            "kind": "diploma",
            "title": "中等职业学校毕业证书",
            "issuer": "school",
            "issued_on": "2027-06-30",
        },
    )
    quality = cloudevent(
        "certificate.earned",
        "FIRST",
        {
            "certificate_no": "DUP-7",
            "kind": "quality",
            "title": "德体美劳素质融合证书",
            "issuer": "school",
            "issued_on": "2027-06-01",
        },
    )
    held = await certificates.process([record(inbound, diploma)])  # LATE not known yet
    assert (held.applied, held.rejected) == (1, 0)
    await certificates.process([_known("FIRST"), record(inbound, quality)])
    await certificates.process([_known("LATE")])  # releases LATE's diploma

    assert _reasons(await outbox_events(certificates), "LATE") == ["CERT_DUPLICATE_NO"]
    async with certificates.pool.acquire() as conn:
        owners = await conn.fetch(
            "SELECT student_id FROM certificates WHERE certificate_no = $1", "DUP-7"
        )
        waiting = await conn.fetchval("SELECT count(*) FROM pending")
    assert [r["student_id"] for r in owners] == ["FIRST"]
    assert waiting == 0  # refused, not held again


async def test_a_released_start_counts_the_employers_interns_outside_the_batch(
    internship: BatchProcessor,
) -> None:
    """At 10 staff an employer takes one post intern (10%): a second one, started while
    the first runs, breaches INT_QUOTA, whether it came before its student's enrollment
    (held, then released) or after."""
    inbound = TOPICS.inbound("internship")
    small = {"employer_staff": 10, "employer_post_staff": 5}
    first = cloudevent(
        "internship.started", "Q-X", lawful_post_internship("I-QX", **small), dataversion="2"
    )
    second = cloudevent(
        "internship.started", "Q-Y", lawful_post_internship("I-QY", **small), dataversion="2"
    )
    await internship.process([_known("Q-X"), record(inbound, first)])
    await internship.process([record(inbound, second)])  # Q-Y not known yet: held
    await internship.process([_known("Q-Y")])  # releases it

    emitted = await outbox_events(internship)
    assert "INT_QUOTA" not in _reasons(emitted, "Q-X")
    started = [e for e in emitted if e["type"] == "internship.started" and e["subject"] == "Q-Y"]
    flagged = [f["code"] for e in started for f in e["data"].get("flags") or []]
    assert "INT_QUOTA" in _reasons(emitted, "Q-Y") + flagged, (started, emitted)
