"""A batch the database refused, applied again one event at a time to find the culprit,
takes every lock its events need before its first event, in the order every batch uses.
Each event taking its own in turn locked in event order: with a batch locking the same
students in sorted order meanwhile, the two could deadlock."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg
import pytest

from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.engine.locks import lock, student_key
from sanzheng_shared.testing import cloudevent, enrolled
from tests.integration.conftest import TOPICS, record


async def _held_by_someone_else(url: str, schema: str, key: str) -> bool:
    other = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        async with other.transaction():
            await other.execute("SET LOCAL lock_timeout = '300ms'")
            try:
                await lock(other, [key])
            except asyncpg.LockNotAvailableError:
                return True
            return False
    finally:
        await other.close()


async def test_one_event_at_a_time_holds_every_student_of_the_batch_before_the_first(
    enrollment: BatchProcessor, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbound = TOPICS.inbound("enrollment")
    # In event order, the later student sorts first: event order and key order differ.
    batch = [record(inbound, enrolled("ISO-B")), record(inbound, enrolled("ISO-A"))]
    apply = enrollment._apply
    later_student_locked: list[bool] = []

    async def refused_whole_then_alone(conn: Any, records: Any, poison: Any, **kw: Any) -> Any:
        if len(records) > 1:
            # Not one event's fault as far as the batch can tell: it isolates.
            raise asyncpg.CheckViolationError("refused, cause unknown")
        if not later_student_locked:  # the first event alone, ISO-B's
            later_student_locked.append(
                await _held_by_someone_else(database_url, enrollment.schema, student_key("ISO-A"))
            )
        return await apply(conn, records, poison, **kw)

    monkeypatch.setattr(enrollment, "_apply", refused_whole_then_alone)
    outcome = await enrollment.process(batch)
    assert later_student_locked == [True], "ISO-A was not locked before ISO-B's event applied"
    assert (outcome.applied, outcome.dead_lettered) == (2, 0)


async def _within(seconds: float, work: Any) -> Any:
    # A consumer that cannot get past a batch retries it for ever: fail instead of hanging.
    return await asyncio.wait_for(work, seconds)


async def test_an_event_whose_data_is_not_an_object_is_refused_and_the_rest_applied(
    enrollment: BatchProcessor,
) -> None:
    inbound = TOPICS.inbound("enrollment")
    bad = enrolled("ODD-DATA") | {"data": "not an object"}
    outcome = await _within(
        30, enrollment.process([record(inbound, bad), record(inbound, enrolled("ODD-OK"))])
    )
    assert (outcome.applied, outcome.rejected, outcome.dead_lettered) == (1, 1, 0)
    assert enrollment.stuck is None


async def test_a_certificate_number_too_long_to_lock_as_it_is_is_refused(
    certificates: BatchProcessor,
) -> None:
    inbound = TOPICS.inbound("certificates")
    # Random text: PostgreSQL compresses a repetitive one under the index's limit.
    data = {"certificate_no": secrets.token_hex(6_000), "kind": "quality", "issuer": "school"}
    data |= {"title": "德体美劳素质融合证书", "issued_on": "2027-06-30"}
    huge = cloudevent("certificate.earned", "LONG-NO", data)
    outcome = await _within(30, certificates.process([record(inbound, huge)]))
    assert (outcome.rejected, outcome.dead_lettered) == (1, 0)
    assert certificates.stuck is None


async def test_locks_it_cannot_take_up_front_are_taken_event_by_event(
    enrollment: BatchProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbound = TOPICS.inbound("enrollment")
    apply = enrollment._apply

    async def refused_whole(conn: Any, records: Any, poison: Any, **kw: Any) -> Any:
        if len(records) > 1:
            raise asyncpg.CheckViolationError("refused, cause unknown")
        return await apply(conn, records, poison, **kw)

    lock_shared = enrollment.new_state.lock_shared
    calls: list[int] = []

    async def cannot_lock(state: Any, *args: Any) -> Any:
        calls.append(len(calls))
        if len(calls) == 1:  # up front; each event's own load locks as before
            raise asyncpg.ProgramLimitExceededError("index row size exceeds maximum")
        return await lock_shared(state, *args)

    monkeypatch.setattr(enrollment, "_apply", refused_whole)
    monkeypatch.setattr(enrollment.new_state, "lock_shared", cannot_lock)
    batch = [record(inbound, enrolled("UPFRONT-B")), record(inbound, enrolled("UPFRONT-A"))]
    outcome = await _within(30, enrollment.process(batch))
    assert (outcome.applied, outcome.dead_lettered) == (2, 0)
    assert enrollment.stuck is None


async def test_a_certificate_number_postgresql_cannot_store_is_refused(
    certificates: BatchProcessor,
) -> None:
    inbound = TOPICS.inbound("certificates")
    data = {"certificate_no": "N\u00001", "kind": "quality", "issuer": "school"}
    data |= {"title": "德体美劳素质融合证书", "issued_on": "2027-06-30"}
    nul = cloudevent("certificate.earned", "NUL-NO", data)
    outcome = await _within(30, certificates.process([record(inbound, nul)]))
    assert (outcome.rejected, outcome.dead_lettered) == (1, 0)
    assert certificates.stuck is None
