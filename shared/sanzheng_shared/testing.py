"""Helpers for tests that go through the real broker and database.

Waiting is a bounded retry on a condition, never a fixed sleep (STYLE.md, cosmicpython e2e).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

T = TypeVar("T")


def cloudevent(
    type: str,
    subject: str,
    data: dict[str, Any],
    *,
    school: str = "SCH001",
    id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": id or str(uuid.uuid4()),
        "source": f"sis/{school}",
        "type": type,
        "time": "2024-09-01T08:00:00+08:00",
        "subject": subject,
        "datacontenttype": "application/json",
        "schoolid": school,
        "dataversion": "1",
        "data": data,
        **extra,
    }


# A checksum-valid 统一社会信用代码 registered in Beijing (region 110105).
TEST_EMPLOYER = "91110105MA01234565"


def lawful_post_internship(internship_id: str, **overrides: Any) -> dict[str, Any]:
    """`data` of an `internship.started` (dataversion 2) that breaks no rule for an adult in
    the 3rd school year from 2025-09-01: every figure a `post` internship requires."""
    return {
        "internship_id": internship_id,
        "kind": "post",
        "mode": "independent",
        "employer_id": TEST_EMPLOYER,
        "employer_name": "华东精密机械有限公司",
        "post_title": "装配工",
        "start_on": "2025-09-01",
        "planned_end_on": "2026-02-28",
        "agreement_signed": True,
        "guardian_consent": True,
        "insurance_policy_no": "PICC-1",
        "daily_hours": 8,
        "weekly_hours": 40,
        "monthly_pay": 3200,
        "post_wage": 3800,
        "paid_directly": True,
        "pay_period_days": 30,
        "employer_staff": 4000,
        "employer_post_staff": 1000,
        "venue_type": "factory",
        **overrides,
    }


def enrolled(subject: str, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": "张三",
        "birth_date": "2008-05-01",
        "major_code": "660701",
        "major_name": "数控技术应用",
        "class_id": "C2024-01",
        "cohort": 2024,
        "enrolled_on": "2024-09-01",
    }
    data.update(overrides)
    return cloudevent("student.enrolled", subject, data)


async def publish(bootstrap: str, topic: str, messages: Iterable[dict[str, Any] | bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for m in messages:
            if isinstance(m, bytes):
                await producer.send_and_wait(topic, m, key=b"raw")
            else:
                key = m.get("subject", "").encode() or None
                await producer.send_and_wait(
                    topic,
                    json.dumps(m, ensure_ascii=False).encode(),
                    key=key,
                    headers=[("content-type", b"application/cloudevents+json")],
                )
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, idle_ms: int = 500) -> list[Any]:
    """Every record of a topic, read without a consumer group (from the beginning)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                return records
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()


async def read_events(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in await read_topic(bootstrap, topic)]


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = bool,
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
) -> T:
    """Retry `probe` until `until(result)` holds; fail with the last result after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout:.0f}s; last: {result!r}")
        await asyncio.sleep(interval)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def create_database(admin_url: str) -> tuple[str, str]:
    name = f"sz_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, with_database(admin_url, name)


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def emitted_sql(schema: str) -> str:
    """How many messages a service's outbox took, published (counted, then deleted) or not."""
    return (
        f"SELECT (SELECT coalesce(sum(messages), 0) FROM {schema}.outbox_published)"
        f" + (SELECT count(*) FROM {schema}.outbox) AS n"
    )


async def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
