"""The raw limit: consume → validate → COPY in one process, nothing else.

What one process on this machine can do with the same events when it does only the
unavoidable work: read them from the broker, parse and validate each as the services do
(the CloudEvent envelope and the catalogue's `data` model), and `COPY` them into a table
keyed like an inbox. The three steps run one after another per fetched batch; the time of
each is reported too.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from sanzheng.bench.environment import connect
from sanzheng_shared.events.envelope import (
    InvalidData,
    NotACloudEvent,
    parse_cloudevent,
    validate_data,
)

TABLE = """CREATE TABLE events (
    source text NOT NULL, id text NOT NULL, type text NOT NULL, subject text,
    time timestamptz, data jsonb NOT NULL, PRIMARY KEY (source, id))"""
COLUMNS = ["source", "id", "type", "subject", "time", "data"]


@dataclass
class RawResult:
    events: int
    invalid: int
    seconds: float
    consume_seconds: float
    validate_seconds: float
    copy_seconds: float

    def as_dict(self) -> dict[str, Any]:
        rate = self.events / self.seconds
        return {
            "events": self.events,
            "invalid": self.invalid,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(rate, 1),
            "consume_per_s": round(self.events / self.consume_seconds, 1),
            "validate_per_s": round(self.events / self.validate_seconds, 1),
            "copy_per_s": round(self.events / self.copy_seconds, 1),
        }


async def run(
    bootstrap: str,
    database_url: str,
    topics: list[str],
    total: int,
    advance: Any = lambda _n: None,
) -> RawResult:
    conn = await connect(database_url)
    await conn.execute(TABLE)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = invalid = 0
        consume = validate = copy = 0.0
        started = time.perf_counter()
        while seen < total:
            t0 = time.perf_counter()
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            t1 = time.perf_counter()
            rows = []
            for records in batches.values():
                for record in records:
                    seen += 1
                    try:
                        event = parse_cloudevent(record.value)
                        validate_data(event)
                    except (NotACloudEvent, InvalidData):
                        invalid += 1
                        continue
                    data = json.dumps(event.data, ensure_ascii=False)
                    rows.append(
                        (event.source, event.id, event.type, event.subject, event.time, data)
                    )
            t2 = time.perf_counter()
            if rows:
                async with conn.transaction():
                    await conn.copy_records_to_table("events", records=rows, columns=COLUMNS)
            t3 = time.perf_counter()
            consume, validate, copy = consume + t1 - t0, validate + t2 - t1, copy + t3 - t2
            advance(sum(len(r) for r in batches.values()))
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
        await conn.close()
    return RawResult(seen, invalid, seconds, consume, validate, copy)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
