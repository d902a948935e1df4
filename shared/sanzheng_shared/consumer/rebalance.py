"""On partition assignment, seek to the offsets stored in PostgreSQL (not Kafka's).

A stored offset the broker's offsets place outside the partition (below its earliest offset:
retention deleted records never read; past its end: the broker lost the partition) means
lost history. The embedded broker keeps topics in memory: after it restarts, new events may
already have reached the stored offset, so each stored position also keeps the broker
timestamp of the record before it; another record there means lost history too. Then the
partition is re-read from the beginning; de-duplication makes the re-read harmless. How
fast the broker answers never decides it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

from sanzheng_shared.consumer.inbox import load_offsets, reset_offset
from sanzheng_shared.db.pool import connection, is_transient
from sanzheng_shared.logging import get_logger

log = get_logger(__name__)

Position = tuple[int, int | None]


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        *,
        service: str,
        pool: Any,
        bootstrap: str,
        get_consumer: Callable[[], AIOKafkaConsumer | None],
        before_revoke: Callable[[AIOKafkaConsumer], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self.pool = pool
        self.bootstrap = bootstrap
        self.get_consumer = get_consumer
        self.before_revoke = before_revoke
        self.rebalanced = False

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Every batch is committed in PostgreSQL before the next poll. Kafka's offsets (for
        # lag tools) are committed at most once a second: what is applied but not yet
        # committed there is committed now, while the partitions are still this consumer's.
        consumer = self.get_consumer()
        if consumer is not None and revoked and self.before_revoke is not None:
            await self.before_revoke(consumer)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self.get_consumer()
        if consumer is None or not assigned:
            self.rebalanced = True
            return
        # Nothing may be fetched from these partitions until they sit at the stored offsets;
        # this runs before the first await, so the fetcher cannot slip in between.
        consumer.pause(*assigned)
        try:
            await self._seek_to_stored(consumer, assigned)
        finally:
            consumer.resume(*assigned)
        self.rebalanced = True
        log.info(
            "partitions_assigned", partitions=sorted(f"{t.topic}:{t.partition}" for t in assigned)
        )

    async def _seek_to_stored(
        self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]
    ) -> None:
        stored = await self._stored_offsets()
        mine = {
            tp: stored[(tp.topic, tp.partition)]
            for tp in assigned
            if (tp.topic, tp.partition) in stored
        }
        lost = await self._lost_history(mine)
        for tp in assigned:
            if tp in mine and tp not in lost:
                consumer.seek(tp, mine[tp][0])
                continue
            if tp in lost:
                log.warning(
                    "stored_offset_not_in_topic",
                    topic=tp.topic,
                    partition=tp.partition,
                    stored_offset=mine[tp][0],
                    action="the broker lost this history; re-reading the partition from the "
                    "beginning (duplicates are skipped)",
                )
                await self._reset(tp)
            await consumer.seek_to_beginning(tp)

    async def _stored_offsets(self) -> dict[tuple[str, int], Position]:
        attempt = 0
        while True:
            try:
                async with connection(self.pool) as conn:
                    return await load_offsets(conn, self.service)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                attempt += 1
                log.warning("offsets_load_retry", error=repr(exc))
                await asyncio.sleep(min(30.0, 0.25 * 2**attempt))

    async def _reset(self, tp: TopicPartition) -> None:
        async with connection(self.pool) as conn:
            await reset_offset(conn, self.service, (tp.topic, tp.partition))

    async def _lost_history(self, positions: dict[TopicPartition, Position]) -> set[TopicPartition]:
        """Partitions whose stored offset points into history the broker no longer has.

        Told by the broker's offsets: a stored offset below the earliest one (retention
        deleted what was never read) or past the end (the broker lost the partition). Within
        the range, the record before the stored offset must still be ours: another record
        there (its timestamp differs), or the broker saying the offset is out of range,
        means the broker restarted and was refilled. A record that is merely slow to come
        is never taken for a loss (the stored offset is kept)."""
        to_check = {tp: p for tp, p in positions.items() if p[0] > 0}
        if not to_check:
            return set()
        probe = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="none",
        )
        await probe.start()
        lost: set[TopicPartition] = set()
        try:
            tps = list(to_check)
            earliest = await probe.beginning_offsets(tps)
            end = await probe.end_offsets(tps)
            inside = {}
            for tp, (offset, timestamp) in to_check.items():
                if offset < earliest[tp] or offset > end[tp]:
                    lost.add(tp)
                elif offset - 1 >= earliest[tp] and timestamp is not None:
                    inside[tp] = (offset, timestamp)
            lost |= await self._not_ours(probe, inside)
        finally:
            await probe.stop()
        return lost

    async def _not_ours(
        self, probe: AIOKafkaConsumer, positions: dict[TopicPartition, tuple[int, int]]
    ) -> set[TopicPartition]:
        if not positions:
            return set()
        probe.assign(list(positions))
        for tp, (offset, _ts) in positions.items():
            probe.seek(tp, offset - 1)
        found: dict[TopicPartition, Any] = {}
        lost: set[TopicPartition] = set()
        deadline = time.monotonic() + 10.0
        while len(found) + len(lost) < len(positions) and time.monotonic() < deadline:
            try:
                batches = await probe.getmany(timeout_ms=500, max_records=len(positions) * 10)
            except OffsetOutOfRangeError as exc:
                gone = set(exc.args[0]) if exc.args and isinstance(exc.args[0], dict) else set()
                lost |= gone & set(positions)
                probe.pause(*gone)
                continue
            for tp, records in batches.items():
                if tp not in found and records:
                    found[tp] = records[0]
                    probe.pause(tp)
        for tp, record in found.items():
            offset, timestamp = positions[tp]
            if record.offset != offset - 1 or record.timestamp != timestamp:
                lost.add(tp)
        for tp in set(positions) - set(found) - lost:
            log.warning(
                "stored_offset_unverified",
                topic=tp.topic,
                partition=tp.partition,
                action="the broker did not hand over the record before the stored offset in "
                "time; its offsets say the history is there, so the stored offset is kept",
            )
        return lost
