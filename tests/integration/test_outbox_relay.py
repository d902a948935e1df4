"""The outbox relay through the real broker and database: it cannot be blocked by one row,
it keeps one key's order through a partial failure, and it holds no transaction open
while the broker takes its time (issue 9, "an outbox that cannot be blocked")."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiokafka.client
import asyncpg
import pytest
from aiokafka.errors import NotLeaderForPartitionError
from prometheus_client import REGISTRY

from sanzheng_shared import outbox
from sanzheng_shared.consumer.dead_letter import dead_letter
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.db.pool import create_pool
from sanzheng_shared.kafka.topics import TopicNames, ensure_topics
from sanzheng_shared.outbox import (
    OutboxMessage,
    OutboxRelay,
    RoundIncomplete,
    parked_rows,
    unpark,
    write_outbox,
)
from sanzheng_shared.settings import Settings
from sanzheng_shared.testing import eventually, read_topic

SCHEMA = "relay_test"
pytestmark = pytest.mark.timeout(120)


@dataclass
class Env:
    settings: Settings
    pool: Any
    topic: str
    written: list[Any] = field(default_factory=list)

    def relay(self, **overrides: Any) -> OutboxRelay:
        assert self.settings.kafka_bootstrap
        options: dict[str, Any] = {"poll_seconds": 0.1, "max_attempts": 2, **overrides}
        return OutboxRelay(
            service="relay-test",
            schema=SCHEMA,
            pool=self.pool,
            bootstrap=self.settings.kafka_bootstrap,
            **options,
        )

    @asynccontextmanager
    async def producing(self, relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
        """The relay's producer, for calling `publish_once` round by round."""
        await relay._producer.start()
        try:
            yield relay
        finally:
            await relay._unlisten()
            await relay._producer.stop()

    async def write(self, *messages: OutboxMessage) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            before = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM outbox")
            await write_outbox(conn, SCHEMA, messages)
            self.written += await conn.fetch(
                "SELECT seq FROM outbox WHERE seq > $1 ORDER BY seq", before
            )

    async def rows(self) -> list[dict[str, Any]]:
        """Every row written, in order: a published one has left the outbox."""
        async with self.pool.acquire() as conn:
            left = {
                r["seq"]: r
                for r in await conn.fetch(
                    "SELECT seq, key, parked_at IS NOT NULL AS parked, last_error FROM outbox"
                )
            }
        return [
            {"seq": w["seq"], "published": False, **dict(left[w["seq"]])}
            if w["seq"] in left
            else {"seq": w["seq"], "published": True, "parked": False, "last_error": None}
            for w in self.written
        ]

    async def on_broker(self, topic: str | None = None) -> list[Any]:
        assert self.settings.kafka_bootstrap
        return await read_topic(self.settings.kafka_bootstrap, topic or self.topic)


@pytest.fixture
async def env(settings: Settings, tmp_path: Path) -> AsyncIterator[Env]:
    assert settings.database_url and settings.kafka_bootstrap
    conn = await asyncpg.connect(settings.database_url)
    await migrate(conn, SCHEMA, tmp_path)  # the platform tables only
    await conn.close()
    topic = f"{settings.topic_prefix}out"
    await ensure_topics(settings.kafka_bootstrap, [topic, TopicNames.dlq(topic)], 3)
    pool = await create_pool(settings.database_url, SCHEMA)
    yield Env(settings, pool, topic)
    await pool.close()


def _message(topic: str, key: str, name: str, size: int = 100) -> OutboxMessage:
    value = json.dumps({"id": name, "pad": "x" * size}).encode()
    return OutboxMessage(topic, key.encode(), value)


def _ids(records: list[Any]) -> list[str]:
    return [json.loads(r.value)["id"] for r in records]


async def _rounds(relay: OutboxRelay, n: int) -> None:
    for _ in range(n):
        try:
            await relay.publish_once()
        except RoundIncomplete:
            pass


def _parked_total(topic: str) -> float:
    value = REGISTRY.get_sample_value(
        "sanzheng_outbox_parked_total", {"service": "relay-test", "topic": topic}
    )
    return value or 0.0


async def test_a_row_too_large_for_any_request_is_parked_and_only_its_key_waits(env: Env):
    async with env.producing(env.relay()) as relay:
        await env.write(
            _message(env.topic, "A", "a1", size=3 * 1024 * 1024),
            _message(env.topic, "B", "b1"),
            _message(env.topic, "A", "a2"),
            _message(env.topic, "B", "b2"),
        )
        await _rounds(relay, 2)

    assert sorted(_ids(await env.on_broker())) == ["b1", "b2"]
    a1, b1, a2, b2 = await env.rows()
    assert a1["parked"] and "exceeds the limit" in a1["last_error"]
    assert b1["published"] and b2["published"]
    assert not a2["published"] and not a2["parked"], "a2 must wait behind a1, not be lost"
    assert _parked_total(env.topic) == 1
    async with env.pool.acquire() as conn:
        [parked] = await parked_rows(conn)
    assert (parked["seq"], parked["waiting"]) == (a1["seq"], 1)


async def test_a_dead_letter_of_a_1_mib_message_with_its_headers_is_published(env: Env):
    @dataclass
    class Record:
        topic: str
        partition: int = 0
        offset: int = 41
        key: bytes = b"S1"
        value: bytes = b"x" * (1024 * 1024 - 200)  # what the broker took: just under 1 MiB
        headers: tuple[tuple[str, bytes], ...] = (("content-type", b"application/json"),)

    record = Record(env.topic)
    async with env.producing(env.relay()) as relay:
        await env.write(dead_letter(record, "not JSON: " + "x" * 900, "enrollment"))
        await _rounds(relay, 1)

    [dead] = await env.on_broker(TopicNames.dlq(env.topic))
    assert dead.value == record.value
    assert dict(dead.headers)["x-original-offset"] == b"41"


async def test_header_values_of_any_shape_survive_dead_lettering(env: Env):
    # A null-valued Kafka header once made the dead-lettering itself raise, and with it the
    # whole batch: the message was neither processed nor dead-lettered.
    @dataclass
    class Record:
        topic: str
        headers: list[tuple[str, Any]]
        partition: int = 2
        offset: int = 7
        key: bytes | None = None
        value: bytes | None = None

    headers = [("null", None), ("nul\x00key", b"v"), ("empty", b""), ("bin", b"\xff\x00")]
    async with env.producing(env.relay()) as relay:
        await env.write(dead_letter(Record(env.topic, headers), "not JSON", "enrollment"))
        await _rounds(relay, 1)

    [dead] = await env.on_broker(TopicNames.dlq(env.topic))
    assert list(dead.headers)[:4] == headers
    assert dict(dead.headers)["x-dlq-reason"] == b"not JSON"


async def test_a_row_for_a_missing_topic_is_parked_then_published_in_order_after_a_fix(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    # As on Apache Kafka with auto.create.topics.enable=false (compose, Strimzi); the
    # embedded broker would otherwise create the topic on the first metadata request.
    monkeypatch.setattr(
        aiokafka.client,
        "MetadataRequest",
        functools.partial(aiokafka.client.MetadataRequest, allow_auto_topic_creation=False),
    )
    missing = f"{env.settings.topic_prefix}not-created-yet"
    async with env.producing(env.relay(max_attempts=2)) as relay:
        await env.write(
            _message(missing, "K", "m1"),
            _message(env.topic, "K", "x1"),  # another topic: its order is its own
            _message(missing, "K", "m2"),
        )
        with pytest.raises(RoundIncomplete):
            await relay.publish_once()
        assert _ids(await env.on_broker()) == ["x1"], "a missing topic blocked the others"
        await _rounds(relay, 1)
        m1, _x1, m2 = await env.rows()
        assert m1["parked"] and "does not exist" in m1["last_error"]
        assert not m2["parked"] and not m2["published"]
        assert await relay.publish_once() == 0  # m2 waits behind m1

        # The operator creates the topic and un-parks: m1 then m2, in that order.
        assert env.settings.kafka_bootstrap
        await ensure_topics(env.settings.kafka_bootstrap, [missing], 3)
        async with env.pool.acquire() as conn:
            assert await unpark(conn, SCHEMA) == 1

        async def one_more_round() -> list[Any]:
            await _rounds(relay, 1)
            return await env.on_broker(missing)

        await eventually(one_more_round, lambda records: len(records) >= 2)
    assert _ids(await env.on_broker(missing)) == ["m1", "m2"]


def _expire_first_batch_of(producer: Any, topic: str) -> None:
    """As when a partition's leader is away past the request timeout: the first batch for
    `topic` fails (retriable) without reaching the broker; later batches go out."""
    accumulator = producer._message_accumulator
    original = accumulator.drain_by_nodes
    done = False

    def drain(ignore_nodes: Any, muted_partitions: Any = frozenset()) -> Any:
        nonlocal done
        nodes, unknown_leaders = original(ignore_nodes, muted_partitions)
        for node in list(nodes):
            for tp in list(nodes[node]):
                if not done and tp.topic == topic:
                    nodes[node].pop(tp).failure(exception=NotLeaderForPartitionError())
                    done = True
            if not nodes[node]:
                del nodes[node]
        return nodes, unknown_leaders

    accumulator.drain_by_nodes = drain


async def test_one_keys_order_survives_a_batch_that_expires(env: Env):
    relay = env.relay()
    _expire_first_batch_of(relay._producer, env.topic)
    # Each message fills a batch of its own, as a busy partition's would.
    await env.write(
        _message(env.topic, "S1", "e1", size=200_000),
        _message(env.topic, "S1", "e2", size=200_000),
    )
    await relay.start()
    try:
        await eventually(env.rows, lambda rows: all(r["published"] for r in rows))
    finally:
        await relay.stop()
    # Never e2, e1, e2: a consumer de-duplicating by id would apply e2 before e1.
    assert _ids(await env.on_broker()) == ["e1", "e2"]


async def test_no_transaction_stays_open_while_the_broker_takes_its_time(env: Env):
    relay = env.relay()
    producer = relay._producer
    gate, sending = asyncio.Event(), asyncio.Event()
    for name in ("send", "send_batch"):
        original = getattr(producer, name)

        async def slow(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            sending.set()
            await gate.wait()
            return await _original(*args, **kwargs)

        setattr(producer, name, slow)
    await env.write(_message(env.topic, "S1", "e1"))
    await relay.start()
    try:
        await asyncio.wait_for(sending.wait(), 10)
        async with env.pool.acquire() as conn:
            open_transactions = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            )
        gate.set()
        await eventually(env.rows, lambda rows: rows[0]["published"])
    finally:
        gate.set()
        await relay.stop()
    assert open_transactions == 0


async def test_a_second_relay_on_the_same_schema_stands_by(env: Env):
    first, second = env.relay(), env.relay()
    await first._producer.start()
    await second._producer.start()
    try:
        await env.write(_message(env.topic, "S1", "e1"))
        assert await first.publish_once() == 1
        await env.write(_message(env.topic, "S1", "e2"))
        assert await second.publish_once() == 0, "the standby published while the leader lives"
        await first._unlisten()  # the leader goes away: the other takes over
        assert await second.publish_once() == 1
    finally:
        await first._unlisten()
        await second._unlisten()
        await first._producer.stop()
        await second._producer.stop()
    assert _ids(await env.on_broker()) == ["e1", "e2"]


async def test_rounds_in_a_row_ask_the_broker_for_metadata_once_until_a_connection_breaks(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    # A metadata request cost the service 2 ms of CPU (and the broker its share) in every
    # round, that is for every small batch of a steady flow.
    asked: list[float] = []
    update = aiokafka.client.AIOKafkaClient.force_metadata_update

    def counted(self: Any) -> Any:
        asked.append(1)
        return update(self)

    monkeypatch.setattr(aiokafka.client.AIOKafkaClient, "force_metadata_update", counted)
    # However slow this machine: the rounds below are within the age a refresh is kept.
    monkeypatch.setattr(outbox, "METADATA_MAX_AGE_SECONDS", 600.0)
    async with env.producing(env.relay()) as relay:
        asked.clear()
        for i in range(10):
            await env.write(_message(env.topic, f"K{i}", f"m{i}"))
            assert await relay.publish_once() == 1
        assert len(asked) == 1, asked
        # A broken connection (a broker that restarted) is asked about again at once.
        for connection in list(relay._producer.client._conns.values()):
            connection.close()
        await env.write(_message(env.topic, "K", "after"))
        assert await relay.publish_once() == 1
        assert len(asked) >= 2, asked
    published = _ids(await read_topic(env.settings.kafka_bootstrap or "", env.topic))
    assert sorted(published) == sorted([*(f"m{i}" for i in range(10)), "after"])
