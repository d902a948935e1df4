"""A submission held for its student and released by a later batch takes the keys shared
between students that it would have taken on arrival: the certificate number it claims,
the employer whose interns its start counts. Before, only the keys of the releasing
batch's own events were locked and loaded, so a released diploma did not see the number
taken meanwhile, and a released start counted none of the employer's interns outside the
batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from sanzheng_internship.app import SPEC as INTERNSHIP
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.engine import writes
from sanzheng_shared.testing import TEST_EMPLOYER, cloudevent, enrolled, lawful_post_internship
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


def _certificate(student: str, number: str, kind: str) -> dict[str, Any]:
    title = "中等职业学校毕业证书" if kind == "diploma" else "德体美劳素质融合证书"
    data = {"certificate_no": number, "kind": kind, "title": title, "issuer": "school"}
    return cloudevent("certificate.earned", student, data | {"issued_on": "2027-06-30"})


async def test_a_released_diploma_whose_number_was_taken_meanwhile_is_refused(
    certificates: BatchProcessor, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbound = TOPICS.inbound("certificates")
    diploma, quality = (
        _certificate("LATE", "DUP-7", "diploma"),
        _certificate("FIRST", "DUP-7", "quality"),
    )
    held = await certificates.process([record(inbound, diploma)])  # LATE not known yet
    assert (held.applied, held.rejected) == (1, 0)
    await certificates.process([_known("FIRST"), record(inbound, quality)])

    locked: list[bool] = []
    send = writes.GatheredWrites.send

    async def look_from_another_connection(self: Any, conn: Any) -> None:
        # The releasing batch, before it commits: another transaction cannot take the
        # number the released diploma claims.
        other = await asyncpg.connect(database_url, server_settings={"search_path": "certificates"})
        try:
            await other.fetch(
                "SELECT k FROM engine_locks WHERE k = 'certificate:DUP-7' FOR UPDATE NOWAIT"
            )
            locked.append(False)
        except asyncpg.LockNotAvailableError:
            locked.append(True)
        finally:
            await other.close()
        await send(self, conn)

    monkeypatch.setattr(writes.GatheredWrites, "send", look_from_another_connection)
    await certificates.process([_known("LATE")])  # releases LATE's diploma
    monkeypatch.setattr(writes.GatheredWrites, "send", send)
    assert locked == [True]

    assert _reasons(await outbox_events(certificates), "LATE") == ["CERT_DUPLICATE_NO"]
    async with certificates.pool.acquire() as conn:
        owners = await conn.fetch(
            "SELECT student_id FROM certificates WHERE certificate_no = $1", "DUP-7"
        )
        waiting = await conn.fetchval("SELECT count(*) FROM pending")
    assert [r["student_id"] for r in owners] == ["FIRST"]
    assert waiting == 0  # refused, not held again


@pytest.mark.parametrize(
    ("held", "employer"),
    [
        (True, TEST_EMPLOYER),
        # The data model compacts the code: so must the lock and the query of its interns.
        (False, f" {TEST_EMPLOYER[:4]}-{TEST_EMPLOYER[4:10]} {TEST_EMPLOYER[10:]}"),
    ],
    ids=["released-after-its-enrollment", "employer-code-written-with-separators"],
)
async def test_a_start_counts_the_employers_interns_outside_the_batch(
    internship: BatchProcessor, held: bool, employer: str
) -> None:
    """At 10 staff an employer takes one post intern (10%): a second one, started while
    the first runs, breaches INT_QUOTA, whether it came before its student's enrollment
    (held, then released) or after, and however the employer's code is written."""
    inbound = TOPICS.inbound("internship")
    small = {"employer_staff": 10, "employer_post_staff": 5}
    first = cloudevent(
        "internship.started", "Q-X", lawful_post_internship("I-QX", **small), dataversion="2"
    )
    second = cloudevent(
        "internship.started",
        "Q-Y",
        lawful_post_internship("I-QY", **small, employer_id=employer),
        dataversion="2",
    )
    await internship.process([_known("Q-X"), record(inbound, first)])
    if held:
        await internship.process([record(inbound, second)])  # Q-Y not known yet: held
        await internship.process([_known("Q-Y")])  # releases it
    else:
        await internship.process([_known("Q-Y")])
        await internship.process([record(inbound, second)])

    emitted = await outbox_events(internship)
    assert "INT_QUOTA" not in _reasons(emitted, "Q-X")
    started = [e for e in emitted if e["type"] == "internship.started" and e["subject"] == "Q-Y"]
    flagged = [f["code"] for e in started for f in e["data"].get("flags") or []]
    assert "INT_QUOTA" in _reasons(emitted, "Q-Y") + flagged, (started, emitted)


async def test_a_number_sent_with_spaces_around_it_is_the_same_number(
    certificates: BatchProcessor,
) -> None:
    """The data model strips the number; the lock and the lookup of who holds it must too,
    or a second student would take over the first one's certificate."""
    inbound = TOPICS.inbound("certificates")
    await certificates.process([_known("OWNER"), _known("OTHER")])
    await certificates.process([record(inbound, _certificate("OWNER", "SP-1", "quality"))])
    await certificates.process([record(inbound, _certificate("OTHER", " SP-1 ", "quality"))])

    assert _reasons(await outbox_events(certificates), "OTHER") == ["CERT_DUPLICATE_NO"]
    async with certificates.pool.acquire() as conn:
        owners = await conn.fetch(
            "SELECT student_id FROM certificates WHERE certificate_no = 'SP-1'"
        )
    assert [r["student_id"] for r in owners] == ["OWNER"]


async def test_interns_stored_before_codes_were_compacted_count_after_the_migration(
    internship: BatchProcessor,
) -> None:
    """A start stored with the employer's code as sent (before codes were validated and
    compacted) counts toward that employer's quota once the migration has run."""
    from sanzheng_shared.db.migrations import migrate

    inbound = TOPICS.inbound("internship")
    small = {"employer_staff": 10, "employer_post_staff": 5}
    first = cloudevent(
        "internship.started", "M-X", lawful_post_internship("I-MX", **small), dataversion="2"
    )
    await internship.process([_known("M-X"), record(inbound, first)])
    async with internship.pool.acquire() as conn:
        # The row as an older release stored it, and that release's migrations.
        await conn.execute(
            "UPDATE internships SET employer_id = $1 WHERE internship_id = 'I-MX'",
            # Full-width digits and hyphen, an ideographic space: as an input method types.
            "９１110105－ma0123\u30004565",
        )
        await conn.execute(
            "DELETE FROM schema_migrations WHERE version = 'service:004_employer_codes'"
        )
        assert await migrate(conn, INTERNSHIP.schema, INTERNSHIP.migrations) == [
            "service:004_employer_codes"
        ]
        assert (
            await conn.fetchval("SELECT employer_id FROM internships WHERE internship_id = 'I-MX'")
            == TEST_EMPLOYER
        )
    second = cloudevent(
        "internship.started", "M-Y", lawful_post_internship("I-MY", **small), dataversion="2"
    )
    await internship.process([_known("M-Y"), record(inbound, second)])
    emitted = await outbox_events(internship)
    started = [e for e in emitted if e["type"] == "internship.started" and e["subject"] == "M-Y"]
    flagged = [f["code"] for e in started for f in e["data"].get("flags") or []]
    assert "INT_QUOTA" in _reasons(emitted, "M-Y") + flagged, (started, emitted)
