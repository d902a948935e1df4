"""A batch the database refused, applied again one event at a time to find the culprit,
takes every lock its events need before its first event, in the order every batch uses.
Each event taking its own in turn locked in event order: with a batch locking the same
students in sorted order meanwhile, the two could deadlock."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.engine.locks import lock, student_key
from sanzheng_shared.testing import enrolled
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
