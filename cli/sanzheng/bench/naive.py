"""The naive peer: a tutorial-style FastStream consumer, one message → one transaction.

What most first versions of a service look like: a plain subscriber (FastStream's defaults:
one message per call, offsets auto-committed), the message parsed and validated with the
same envelope and catalogue as the services, then one PostgreSQL transaction with an upsert
per event. The services' ratios are measured against this.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from sanzheng_shared.events.envelope import (
    InvalidData,
    NotACloudEvent,
    parse_cloudevent,
    validate_data,
)

TABLE = """CREATE TABLE events (
    source text NOT NULL, id text NOT NULL, type text NOT NULL, subject text,
    data jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id))"""
UPSERT = (
    "INSERT INTO events (source, id, type, subject, data) VALUES ($1, $2, $3, $4, $5::jsonb)"
    " ON CONFLICT (source, id) DO UPDATE SET data = excluded.data"
)


@dataclass
class NaiveResult:
    events: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events / self.seconds, 1),
        }


async def run(
    bootstrap: str,
    database_url: str,
    topics: list[str],
    total: int,
    group_id: str,
    advance: Any = lambda _n: None,
) -> NaiveResult:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    await pool.execute(TABLE)
    quiet = logging.getLogger("sanzheng.bench.naive")
    quiet.setLevel(logging.WARNING)
    broker = KafkaBroker(bootstrap, logger=quiet)
    done = asyncio.Event()
    seen = 0
    first = 0.0

    @broker.subscriber(*topics, group_id=group_id, auto_offset_reset="earliest")
    async def handle(body: bytes) -> None:
        nonlocal seen, first
        if not first:
            first = time.perf_counter()
        try:
            event = parse_cloudevent(body)
            validate_data(event)
        except (NotACloudEvent, InvalidData):
            pass
        else:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    UPSERT,
                    event.source,
                    event.id,
                    event.type,
                    event.subject,
                    json.dumps(event.data, ensure_ascii=False),
                )
        seen += 1
        advance(1)
        if seen >= total:
            done.set()

    await broker.start()
    try:
        await done.wait()
        # From the first message handled: the group join before it is not the consumer's work.
        seconds = time.perf_counter() - first
    finally:
        await broker.stop()
        await pool.close()
    return NaiveResult(seen, seconds)
