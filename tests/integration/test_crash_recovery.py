"""A service process killed with SIGKILL at the worst moments loses nothing and applies
every event once (SPEC §4.1). The kill happens at a named failpoint, not on a timer."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.settings import Settings
from sanzheng_shared.testing import (
    emitted_sql,
    enrolled,
    eventually,
    fetch,
    publish,
    read_events,
)

pytestmark = pytest.mark.slow

EVENTS = 30


async def _spawn(settings: Settings, failpoint: str | None = None) -> asyncio.subprocess.Process:
    env = dict(os.environ)
    env.update(
        SANZHENG_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
        SANZHENG_DATABASE_URL=settings.database_url or "",
        SANZHENG_TOPIC_PREFIX=settings.topic_prefix,
        SANZHENG_TOPIC_PARTITIONS="3",
        SANZHENG_CONSUMER_MAX_RECORDS="5",  # several batches, so a restart has work left
        SANZHENG_OUTBOX_POLL_SECONDS="0.2",
    )
    env.pop("SANZHENG_FAILPOINT", None)
    if failpoint:
        env["SANZHENG_FAILPOINT"] = failpoint
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sanzheng_enrollment",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _count(url: str, sql: str) -> int:
    return int((await fetch(url, sql))[0][0])


async def _crash_then_recover(settings: Settings, failpoint: str) -> int:
    topics = TopicNames(settings.topic_prefix)
    events = [enrolled(f"STU-{i:03d}") for i in range(EVENTS)]
    await publish(settings.kafka_bootstrap, topics.inbound("enrollment"), events)

    crashing = await _spawn(settings, failpoint)
    code = await asyncio.wait_for(crashing.wait(), 90)
    assert code == -signal.SIGKILL, f"the service was meant to die at {failpoint}, exit {code}"
    applied_before_restart = await _count(
        settings.database_url, "SELECT count(*) FROM enrollment.students"
    )

    healthy = await _spawn(settings)
    try:
        await eventually(
            lambda: _count(settings.database_url, "SELECT count(*) FROM enrollment.students"),
            lambda n: n == EVENTS,
            timeout=90,
        )
        emitted = await eventually(
            lambda: read_events(settings.kafka_bootstrap, topics.outbound("enrollment")),
            lambda e: len({x["subject"] for x in e}) == EVENTS,
            timeout=60,
        )
    finally:
        healthy.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(healthy.wait(), 60) == 0, "SIGTERM must stop it cleanly"

    # One effect per event: one outbox row each, and one distinct id per student downstream
    # (the relay may re-send a row it published just before the kill; ids make that harmless).
    assert await _count(settings.database_url, emitted_sql("enrollment")) == EVENTS
    assert await _count(settings.database_url, "SELECT count(*) FROM enrollment.inbox") == EVENTS
    assert len({e["id"] for e in emitted}) == EVENTS
    assert {e["subject"] for e in emitted} == {f"STU-{i:03d}" for i in range(EVENTS)}
    return applied_before_restart


async def test_killed_after_the_database_commit_before_the_kafka_commit(settings):
    applied = await _crash_then_recover(settings, "after_db_commit")
    assert applied >= 1, "the first batch was committed to PostgreSQL before the kill"


async def test_killed_before_the_database_commit(settings):
    applied = await _crash_then_recover(settings, "before_db_commit")
    assert applied == 0, "nothing of the batch in hand may be visible after a kill mid-transaction"
