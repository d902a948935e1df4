"""An in-memory broker restarted empty may get its topics back with fewer partitions (a
client's metadata request auto-creates them with the broker's default: Tansu's is 4).
Tansu then acknowledges a send to a partition that no longer exists, and nothing can ever
read it: a relay that trusted its cached metadata published into a void (found by the
fault suite: decisions lost after a broker restart). The relay asks the broker for the
topic's partitions each round."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
from aiokafka.partitioner import DefaultPartitioner

from sanzheng.embedded import EmbeddedBroker
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.db.pool import create_pool
from sanzheng_shared.kafka.topics import ensure_topics
from sanzheng_shared.outbox import OutboxMessage, OutboxRelay, write_outbox
from sanzheng_shared.testing import eventually, read_topic
from tests.faults.harness import _broker_on

SCHEMA = "relay_restart"


def _key_beyond(partitions: int, of: int) -> bytes:
    """A key that the partitioner puts at or above `partitions` among `of` partitions."""
    every = list(range(of))
    return next(
        k
        for k in (f"S{n}".encode() for n in range(1000))
        if DefaultPartitioner()(k, every, every) >= partitions
    )


async def test_the_relay_does_not_publish_into_a_partition_gone_with_a_broker_restart(
    database_url: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(database_url)
    await migrate(conn, SCHEMA, tmp_path)
    await conn.close()
    pool = await create_pool(database_url, SCHEMA)
    broker = EmbeddedBroker.start()
    port = int(broker.bootstrap.rsplit(":", 1)[1])
    relay = OutboxRelay(
        service="relay-restart", schema=SCHEMA, pool=pool, bootstrap=broker.bootstrap
    )
    key = _key_beyond(4, 6)

    async def write(name: str) -> None:
        message = OutboxMessage("out", key, json.dumps({"id": name}).encode())
        async with pool.acquire() as c, c.transaction():
            await write_outbox(c, SCHEMA, [message])

    async def published() -> bool:
        async with pool.acquire() as c:
            return not await c.fetchval("SELECT count(*) FROM outbox")

    try:
        await ensure_topics(broker.bootstrap, ["out"], 6)
        await relay._producer.start()
        await write("before")
        await relay.publish_once()
        assert await published()

        broker.stop()
        broker = await asyncio.to_thread(_broker_on, port, tmp_path / "tansu.log")
        await ensure_topics(broker.bootstrap, ["out"], 4)  # back, with fewer partitions
        await write("after")
        await eventually(_round(relay, published), timeout=60)
        records = await read_topic(broker.bootstrap, "out")
        assert [json.loads(r.value)["id"] for r in records] == ["after"], (
            "the relay said it published a row that no one can read"
        )
    finally:
        await relay._unlisten()
        await relay._producer.stop()
        await pool.close()
        broker.stop()


def _round(relay: OutboxRelay, published: object) -> object:
    async def probe() -> bool:
        try:
            await relay.publish_once()
        except Exception:
            return False
        return await published()  # type: ignore[operator]

    return probe
