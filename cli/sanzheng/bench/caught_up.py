"""When a set of running services has caught up, read from their own tables.

A service has caught up when it has consumed every message of its input topics (the sum of
its stored `consumer_offsets`, offsets counting from 0) and published everything it emitted
(no row left in its outbox). What is on a topic is what was published to it from outside
(inbound publishes, earlier stages) plus what the running services published: each outbox
counts what it published per topic (`outbox_published`, in the statement that deletes the
published rows).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg

from sanzheng.bench.environment import connect


@dataclass
class Progress:
    consumed: int
    expected: int
    unpublished: int
    done: bool


async def outbox_start(conn: Any, schemas: list[str]) -> dict[str, Counter[str]]:
    """What each outbox had published before the run, per topic (a database grown to a
    province has published millions, which the run must not count)."""
    return {schema: await _published(conn, schema) for schema in schemas}


async def _outbox(conn: Any, schema: str) -> tuple[int, Counter[str]]:
    """The rows left in a service's outbox (not yet published, parked ones included) and what
    it published per topic, in one statement: the bench polls it while it measures."""
    try:
        row = await conn.fetchrow(
            f'SELECT (SELECT count(*) FROM "{schema}".outbox) AS waiting,'
            " (SELECT coalesce(jsonb_object_agg(topic, messages), '{}')::text"
            f'  FROM "{schema}".outbox_published) AS published'
        )
    except asyncpg.UndefinedTableError:
        return 0, Counter()  # a fresh database: the service has not migrated it yet
    return int(row["waiting"]), Counter(json.loads(row["published"]))


async def _published(conn: Any, schema: str) -> Counter[str]:
    return (await _outbox(conn, schema))[1]


async def outbox_counts(
    conn: Any, schemas: list[str], since: dict[str, Counter[str]] | None = None
) -> Counter[str]:
    """Messages the services published, per topic (since `since`, from outbox_start)."""
    out: Counter[str] = Counter()
    for schema in schemas:
        out.update(await _published(conn, schema))
        out.subtract((since or {}).get(schema, Counter()))
    return +out


class CaughtUp:
    def __init__(
        self,
        schemas: dict[str, list[str]],
        produced_elsewhere: Counter[str],
        since: dict[str, Counter[str]] | None = None,
    ) -> None:
        """`schemas`: each running service's schema and its input topics; `since`: what each
        outbox had published before the run (outbox_start)."""
        self.schemas = schemas
        self.elsewhere = produced_elsewhere
        self.since = since or {}

    async def consumed(self, conn: Any) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for schema in self.schemas:
            rows = await conn.fetch(
                f"SELECT topic, sum(next_offset)::bigint AS n FROM {schema}.consumer_offsets"
                " GROUP BY topic"
            )
            out[schema] = Counter({r["topic"]: int(r["n"]) for r in rows})
        return out

    def _compare(self, consumed: dict[str, Counter[str]], produced: Counter[str]) -> Progress:
        expected = got_total = 0
        done = True
        for schema, inputs in self.schemas.items():
            for topic in inputs:
                want, got = produced[topic], consumed[schema][topic]
                expected += want
                got_total += min(got, want)
                done = done and got >= want
        return Progress(got_total, expected, 0, done)

    async def _outboxes(self, conn: Any) -> tuple[int, Counter[str]]:
        waiting, published = 0, Counter[str]()
        for schema in self.schemas:
            left, sent = await _outbox(conn, schema)
            waiting += left
            published.update(sent)
            published.subtract(self.since.get(schema, Counter()))
        return waiting, +published

    async def check(self, conn: Any) -> Progress:
        # The outboxes before the offsets: a batch committed after this read has moved its
        # offsets and left rows in its outbox, which the second read below finds.
        waiting, published = await self._outboxes(conn)
        progress = self._compare(await self.consumed(conn), self.elsewhere + published)
        progress.unpublished = waiting
        if progress.done and waiting == 0 and await self._outboxes(conn) == (0, published):
            return progress
        progress.done = False
        return progress


async def wait_caught_up(
    url: str,
    schemas: dict[str, list[str]],
    produced_elsewhere: Counter[str],
    *,
    on_progress: Any = lambda _p: None,
    interval: float = 0.2,
    stall_timeout: float = 300.0,
    since: dict[str, Counter[str]] | None = None,
) -> float:
    """Poll until caught up; returns time.time() when it first held. Fails when nothing
    moves for `stall_timeout` seconds (a lost message would otherwise hang the bench)."""
    watch = CaughtUp(schemas, produced_elsewhere, since)
    conn = await connect(url)
    try:
        last, moved = (-1, -1), time.monotonic()
        while True:
            progress = await watch.check(conn)
            now = time.time()
            on_progress(progress)
            if progress.done:
                return now
            if (progress.consumed, progress.expected) != last:
                last, moved = (progress.consumed, progress.expected), time.monotonic()
            elif time.monotonic() - moved > stall_timeout:
                raise TimeoutError(
                    f"no progress for {stall_timeout:.0f}s: consumed {progress.consumed}"
                    f" of {progress.expected}, {progress.unpublished} unpublished"
                )
            await asyncio.sleep(interval)
    finally:
        await conn.close()
