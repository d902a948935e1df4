"""On partition assignment, seek to the offsets stored in PostgreSQL (not Kafka's).

The embedded broker keeps topics in memory: after it restarts, stored offsets point into a
history that is gone, and new events land below them. Offsets alone cannot tell (new events
may already have reached the stored offset), so each stored position keeps the broker
timestamp of the record before it; when the partition no longer holds that record, the
partition is re-read from the beginning. De-duplication makes the re-read harmless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

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
    ) -> None:
        self.service = service
        self.pool = pool
        self.bootstrap = bootstrap
        self.get_consumer = get_consumer
        self.rebalanced = False

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass  # every batch is committed before the next poll: nothing to flush here

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
        """Partitions whose record before the stored offset is not (or no longer) there."""
        to_check = {tp: p for tp, p in positions.items() if p[0] > 0}
        if not to_check:
            return set()
        probe = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None
        )
        await probe.start()
        try:
            probe.assign(list(to_check))
            for tp, (offset, _ts) in to_check.items():
                probe.seek(tp, offset - 1)
            found: dict[TopicPartition, Any] = {}
            deadline = time.monotonic() + 3.0
            while len(found) < len(to_check) and time.monotonic() < deadline:
                batches = await probe.getmany(timeout_ms=500, max_records=len(to_check) * 10)
                for tp, records in batches.items():
                    if tp not in found and records:
                        found[tp] = records[0]
                        probe.pause(tp)
        finally:
            await probe.stop()
        lost = set()
        for tp, (offset, timestamp) in to_check.items():
            record = found.get(tp)
            same = (
                record is not None
                and record.offset == offset - 1
                and (timestamp is None or record.timestamp == timestamp)
            )
            if not same:
                lost.add(tp)
        return lost
