"""A held submission is announced only once it has waited `held_notice_after_seconds`: a hold
that ends sooner (its enrollment came through) sends neither `submission.held` nor
`submission.released`; one that lasts is announced by the service's periodic sweep, with
the time it was held, and its release is announced in turn (SPEC §4.3: pending items are
visible in the student's status). And holds that a batch of another student releases (an
internship named by two students) are neither announced unseen nor stranded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from sanzheng_credits.app import SPEC as CREDITS
from sanzheng_internship.app import SPEC as INTERNSHIP
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.engine import writes
from sanzheng_shared.engine.replay import replay
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.pending import announce_waiting
from sanzheng_shared.testing import (
    cloudevent,
    enrolled,
    eventually,
    fetch,
    lawful_post_internship,
    publish,
    read_events,
)
from tests.integration.conftest import (
    POLICIES,
    TOPICS,
    canonical,
    outbox_events,
    processor,
    record,
)
from tests.integration.test_credits import course

NOTICES = ("submission.held", "submission.released")


@pytest.fixture
async def credits(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, CREDITS):
        p.held_notice_after = 5.0  # what the runtime sets from the settings
        yield p


async def _sweep(proc: BatchProcessor, older_than: timedelta) -> int:
    async with proc.pool.acquire() as conn:
        return await announce_waiting(conn, proc.service, proc.schema, TOPICS, older_than)


async def test_a_short_hold_is_never_announced_a_long_one_is_then_released(
    credits: BatchProcessor,
) -> None:
    inbound, enrollment = TOPICS.inbound("credits"), TOPICS.outbound("enrollment")
    short, long = course("S-SHORT", "MEC101"), course("S-LONG", "MEC101")
    await credits.process([record(inbound, short), record(inbound, long)])
    assert [e["type"] for e in await outbox_events(credits) if e["type"] in NOTICES] == []

    # S-SHORT's enrollment comes through before the sweep: its hold ends unannounced.
    await credits.process([record(enrollment, canonical(enrolled("S-SHORT"), "enrollment"))])
    assert await _sweep(credits, timedelta(hours=1)) == 0  # S-LONG has not waited that long
    assert await _sweep(credits, timedelta(0)) == 1
    assert await _sweep(credits, timedelta(0)) == 0  # announced once

    await credits.process([record(enrollment, canonical(enrolled("S-LONG"), "enrollment"))])
    out = await outbox_events(credits)
    notices = [(e["type"], e["subject"], e["data"]["id"]) for e in out if e["type"] in NOTICES]
    assert notices == [
        ("submission.held", "S-LONG", long["id"]),
        ("submission.released", "S-LONG", long["id"]),
    ]
    held = next(e for e in out if e["type"] == "submission.held")
    assert held["data"]["waiting_for"] == "student.enrolled"
    # The notice says when the submission was held, before the sweep announced it.
    released = next(e for e in out if e["type"] == "submission.released")
    assert datetime.fromisoformat(held["time"]) <= datetime.fromisoformat(released["time"])
    # Both holds were applied once released.
    completed = {e["subject"] for e in out if e["type"] == "course.completed"}
    assert completed == {"S-SHORT", "S-LONG"}


async def test_a_running_service_announces_a_lasting_hold_and_its_release(
    settings, start_service
) -> None:
    await start_service(CREDITS, held_notice_after_seconds=1)
    topics = TopicNames(settings.topic_prefix)
    waiting = course("S-WAIT", "MEC201")
    await publish(settings.kafka_bootstrap, topics.inbound("credits"), [waiting])

    async def notices() -> list[str]:
        events = await read_events(settings.kafka_bootstrap, topics.outbound("credits"))
        return [e["type"] for e in events if e["type"] in NOTICES and e["subject"] == "S-WAIT"]

    assert await eventually(notices, timeout=60) == ["submission.held"]
    student = canonical(enrolled("S-WAIT"), "enrollment")
    await publish(settings.kafka_bootstrap, topics.outbound("enrollment"), [student])
    await eventually(notices, lambda n: n == ["submission.held", "submission.released"])


async def test_a_replay_keeps_which_holds_were_announced(credits: BatchProcessor) -> None:
    inbound, enrollment = TOPICS.inbound("credits"), TOPICS.outbound("enrollment")
    told, untold = course("S-TOLD", "MEC101"), course("S-UNTOLD", "MEC101")
    await credits.process([record(inbound, told)])
    assert await _sweep(credits, timedelta(0)) == 1  # S-TOLD's hold reached the gateway
    await credits.process([record(inbound, untold)])
    async with credits.pool.acquire() as conn:
        await replay(conn, CREDITS, topics=TOPICS, policies=POLICIES, emit=False)
    # The one announced before stays so; the other is left to the sweep.
    assert await _sweep(credits, timedelta(0)) == 1
    students = [canonical(enrolled(s), "enrollment") for s in ("S-TOLD", "S-UNTOLD")]
    await credits.process([record(enrollment, e) for e in students])
    notices = [
        (e["type"], e["subject"]) for e in await outbox_events(credits) if e["type"] in NOTICES
    ]
    assert sorted(notices) == [
        ("submission.held", "S-TOLD"),
        ("submission.held", "S-UNTOLD"),
        ("submission.released", "S-TOLD"),
        ("submission.released", "S-UNTOLD"),
    ]


@pytest.fixture
async def internship(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, INTERNSHIP):
        p.held_notice_after = 5.0
        yield p


async def test_a_release_for_another_student_and_the_sweep_at_once_leave_no_hold_untold(
    internship: BatchProcessor, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An internship's start releases a completion another student sent first, without
    that student's lock: the sweep must not announce the hold while the release, which
    then could not know it was announced, deletes it."""
    enrollment, inbound = TOPICS.outbound("enrollment"), TOPICS.inbound("internship")
    await internship.process(
        [record(enrollment, canonical(enrolled(s), "enrollment")) for s in ("X", "Y")]
    )
    data = {"internship_id": "I-1", "end_on": "2026-02-28", "hours": 960, "evaluation": "pass"}
    completion = cloudevent("internship.completed", "X", data | {"kind": "post"})
    await internship.process([record(inbound, completion)])
    an_hour_ago = "UPDATE internship.pending SET received_at = now() - interval '1 hour'"
    await fetch(database_url, an_hour_ago)

    sweeps: list[asyncio.Task[int]] = []
    send = writes.GatheredWrites.send

    async def sweep_before_saving(self: Any, conn: Any) -> None:
        # The batch has loaded and released the hold; the sweep runs now, on another
        # connection, and the batch saves half a second later.
        if not sweeps:
            sweeps.append(asyncio.create_task(_sweep(internship, timedelta(seconds=5))))
            await asyncio.sleep(0.5)
        await send(self, conn)

    monkeypatch.setattr(writes.GatheredWrites, "send", sweep_before_saving)
    started = cloudevent("internship.started", "Y", lawful_post_internship("I-1"), dataversion="2")
    await internship.process([record(inbound, started)])
    monkeypatch.setattr(writes.GatheredWrites, "send", send)
    await asyncio.wait_for(sweeps[0], 30)
    notices = [e["type"] for e in await outbox_events(internship) if e["type"] in NOTICES]
    assert notices in ([], ["submission.held", "submission.released"]), notices


@pytest.fixture
async def another_internship(database_url: str) -> AsyncIterator[BatchProcessor]:
    """A second process of the internship service (a replica), on its own pool."""
    async for p in processor(database_url, INTERNSHIP):
        yield p


async def test_a_completion_held_while_another_student_starts_that_internship_is_not_stranded(
    internship: BatchProcessor,
    another_internship: BatchProcessor,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """X's completion of I-2 is held (no start known) in a batch that has not committed when
    Y's batch, in another replica, starts I-2: the internship's own lock makes Y's batch
    wait, see the hold and refuse it (the internship is Y's), instead of leaving it waiting
    forever."""
    enrollment, inbound = TOPICS.outbound("enrollment"), TOPICS.inbound("internship")
    await internship.process(
        [record(enrollment, canonical(enrolled(s), "enrollment")) for s in ("X2", "Y2")]
    )
    saving = asyncio.Event()
    send = writes.GatheredWrites.send

    async def slow_first_save(self: Any, conn: Any) -> None:
        if not saving.is_set():  # the completion's batch: hold its commit a moment
            saving.set()
            await asyncio.sleep(1.0)
        await send(self, conn)

    monkeypatch.setattr(writes.GatheredWrites, "send", slow_first_save)
    data = {"internship_id": "I-2", "end_on": "2026-02-28", "hours": 960, "evaluation": "pass"}
    completion = cloudevent("internship.completed", "X2", data | {"kind": "post"})
    held = asyncio.create_task(internship.process([record(inbound, completion)]))
    await asyncio.wait_for(saving.wait(), 30)
    start = cloudevent("internship.started", "Y2", lawful_post_internship("I-2"), dataversion="2")
    await asyncio.wait_for(another_internship.process([record(inbound, start)]), 30)
    await asyncio.wait_for(held, 30)

    assert await fetch(database_url, "SELECT seq FROM internship.pending") == []
    [refused] = [e for e in await outbox_events(internship) if e["type"] == "submission.rejected"]
    assert refused["data"]["id"] == completion["id"]
    assert [r["field"] for r in refused["data"]["reasons"]] == ["internship_id"]
