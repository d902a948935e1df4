"""When a set of running services has caught up, read from their own tables.

A service has caught up when it has consumed every message of its input topics (the sum of
its stored `consumer_offsets`, offsets counting from 0) and published everything it emitted
(no outbox row left unpublished). What is on a topic is what was published to it from
outside (inbound publishes, earlier stages) plus what the running services published.

The outboxes are counted incrementally (rows below the first unpublished one, in `seq`
order) for the progress bar; the final answer is confirmed with a full count.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sanzheng.bench.environment import connect


@dataclass
class Progress:
    consumed: int
    expected: int
    unpublished: int
    done: bool


async def outbox_start(conn: Any, schemas: list[str]) -> dict[str, int]:
    """Each outbox's highest `seq` now: the rows after it are the run's to come (a database
    grown to a province holds millions before them, which the run must not count)."""
    out: dict[str, int] = {}
    for schema in schemas:
        if await conn.fetchval("SELECT to_regclass($1)", f'"{schema}".outbox') is None:
            out[schema] = 0  # a fresh database: the service has not migrated it yet
        else:
            out[schema] = int(
                await conn.fetchval(f'SELECT coalesce(max(seq), 0) FROM "{schema}".outbox')
            )
    return out


async def outbox_counts(
    conn: Any, schemas: list[str], since: dict[str, int] | None = None
) -> Counter[str]:
    """Messages the services published, per topic (a full count of the rows after
    `since`)."""
    out: Counter[str] = Counter()
    for schema in schemas:
        for r in await conn.fetch(
            f"SELECT topic, count(*) AS n FROM {schema}.outbox"
            " WHERE published_at IS NOT NULL AND seq > $1 GROUP BY topic",
            (since or {}).get(schema, 0),
        ):
            out[r["topic"]] += int(r["n"])
    return out


@dataclass
class _Outboxes:
    """Published outbox rows per topic, counted a slice at a time."""

    watermark: dict[str, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    async def update(self, conn: Any, schema: str) -> int:
        """Count the rows newly below the first unpublished one; returns how many remain."""
        # Unparked and parked rows apart, each on its partial index: the published rows
        # (millions at a province's state) are never scanned.
        unpublished = f"FROM {schema}.outbox WHERE published_at IS NULL AND parked_at IS"
        row = await conn.fetchrow(
            f"SELECT least((SELECT min(seq) {unpublished} NULL),"
            f"             (SELECT min(seq) {unpublished} NOT NULL)) AS low,"
            f" (SELECT count(*) {unpublished} NULL)"
            f"  + (SELECT count(*) {unpublished} NOT NULL) AS waiting,"
            f" (SELECT max(seq) FROM {schema}.outbox) AS high"
        )
        high = (row["low"] - 1) if row["low"] is not None else (row["high"] or 0)
        low = self.watermark.get(schema, 0)
        if high > low:
            for r in await conn.fetch(
                f"SELECT topic, count(*) AS n FROM {schema}.outbox"
                " WHERE seq > $1 AND seq <= $2 GROUP BY topic",
                low,
                high,
            ):
                self.counts[r["topic"]] += int(r["n"])
            self.watermark[schema] = high
        return int(row["waiting"])


class CaughtUp:
    def __init__(
        self,
        schemas: dict[str, list[str]],
        produced_elsewhere: Counter[str],
        since: dict[str, int] | None = None,
    ) -> None:
        """`schemas`: each running service's schema and its input topics; `since`: each
        outbox's rows before the run (outbox_start)."""
        self.schemas = schemas
        self.elsewhere = produced_elsewhere
        self.since = since or {}
        self.outboxes = _Outboxes(watermark=dict(self.since))

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

    async def check(self, conn: Any) -> Progress:
        waiting = 0
        for schema in self.schemas:
            waiting += await self.outboxes.update(conn, schema)
        consumed = await self.consumed(conn)
        progress = self._compare(consumed, self.elsewhere + self.outboxes.counts)
        progress.unpublished = waiting
        if progress.done and waiting == 0:
            # Confirm with a full count: a row committed late below the watermark would
            # have been missed by the incremental one.
            full = self.elsewhere + await outbox_counts(conn, list(self.schemas), self.since)
            confirmed = self._compare(await self.consumed(conn), full)
            confirmed.unpublished = 0
            return confirmed
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
    since: dict[str, int] | None = None,
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
