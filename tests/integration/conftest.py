"""Fixtures of the engine tests: batch processors of real services over a real database,
fed with records built in the test (no broker: the engine's own behaviour)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sanzheng_certificates.app import SPEC as CERTIFICATES
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.db.pool import create_pool
from sanzheng_shared.engine.eventlog import LoggedRecord
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.policy import PolicyBook

TOPICS = TopicNames("")
POLICIES = PolicyBook.load(None)
_offsets: dict[str, int] = {}


def record(topic: str, event: dict[str, Any]) -> LoggedRecord:
    offset = _offsets[topic] = _offsets.get(topic, -1) + 1
    return LoggedRecord(topic, 0, offset, int(time.time() * 1000), json.dumps(event).encode(), None)


def canonical(event: dict[str, Any], service: str) -> dict[str, Any]:
    return event | {"source": f"sanzheng/{service}"}


async def outbox_events(proc: BatchProcessor) -> list[dict[str, Any]]:
    """What the processor's batches emitted (its outbox), in order."""
    async with proc.pool.acquire() as conn:
        rows = await conn.fetch("SELECT value FROM outbox ORDER BY seq")
    return [json.loads(bytes(r["value"])) for r in rows]


async def processor(url: str, spec: Any) -> AsyncIterator[BatchProcessor]:
    pool = await create_pool(url, spec.schema, max_size=2)
    async with pool.acquire() as conn:
        await migrate(conn, spec.schema, spec.migrations, known_students=spec.known_students)
    try:
        yield BatchProcessor(
            service=spec.name,
            schema=spec.schema,
            pool=pool,
            routes=spec.routes(TOPICS),
            topics=TOPICS,
            policies=POLICIES,
            state=spec.state,
        )
    finally:
        await pool.close()


@pytest.fixture
async def certificates(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, CERTIFICATES):
        yield p


@pytest.fixture
async def certificates_replica(
    database_url: str, certificates: BatchProcessor
) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, CERTIFICATES):
        yield p


@pytest.fixture
async def enrollment(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, ENROLLMENT):
        yield p
