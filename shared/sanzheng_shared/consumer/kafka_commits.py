"""Kafka's committed offsets, which are for lag tools only.

A service resumes from the positions it keeps in PostgreSQL, in the batch's transaction
(`inbox.save_offsets`). Kafka's committed offsets are what `kafka-consumer-groups` and
lag exporters read, so that a group that has caught up shows no lag.

A commit is a request to the broker, and it was awaited after every batch: at the small
batches of a steady flow, that is one more round trip per batch for the service and the
broker. So each consumer commits what it has applied at most once per interval, and the
last batches before it goes idle within one interval after them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import TopicPartition

from sanzheng_shared.logging import get_logger

log = get_logger(__name__)


def next_offsets(records: Sequence[Any]) -> dict[TopicPartition, int]:
    """Per partition, the offset after the batch's last record of it."""
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        if r.offset + 1 > offsets.get(tp, -1):
            offsets[tp] = r.offset + 1
    return offsets


COMMIT_TIMEOUT_SECONDS = 3.0
"""aiokafka retries a commit for as long as the broker is away: a stop must not wait that
long for a figure of the lag tools'."""


class LagCommits:
    def __init__(self, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._applied: dict[Any, dict[TopicPartition, int]] = {}
        """per consumer: the next offset of each partition, applied but not committed"""
        self._last: dict[Any, float] = {}
        self._timers: dict[Any, asyncio.Task[None]] = {}
        self._locks: dict[Any, asyncio.Lock] = {}
        self._stopping = False

    async def applied(self, consumer: Any, offsets: Mapping[TopicPartition, int]) -> None:
        """A batch is applied (committed in PostgreSQL) up to these next offsets
        (`next_offsets`): commit them to Kafka now, or within the interval."""
        if consumer is None:
            return
        self._keep(consumer, offsets)
        wait = self._last.get(consumer, -math.inf) + self.interval - time.monotonic()
        if wait <= 0 or self._stopping:
            await self.commit(consumer)
        elif consumer not in self._timers:
            self._timers[consumer] = asyncio.create_task(
                self._later(consumer, wait), name="kafka-lag-commit"
            )

    async def flush(self) -> None:
        """When the service stops: what was applied is committed, and so is each batch
        that ends while the consumers stop (the batch in hand), at once."""
        self._stopping = True
        await self._cancel_timers()
        for consumer in list(self._applied):
            await self.commit(consumer)

    def close(self) -> None:
        """Once the consumers are closed: nothing more can be committed."""
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()

    async def commit(self, consumer: Any) -> None:
        """What the consumer has applied, now (also before a rebalance takes partitions
        away, while they are still its own). One at a time per consumer, so that Kafka's
        offset never moves back."""
        async with self._locks.setdefault(consumer, asyncio.Lock()):
            offsets = self._applied.pop(consumer, {})
            self._last[consumer] = time.monotonic()
            assigned = consumer.assignment()
            # A partition already taken away is its new owner's to commit.
            offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
            if not offsets:
                return
            try:
                await asyncio.wait_for(consumer.commit(offsets), COMMIT_TIMEOUT_SECONDS)
                return
            except asyncio.CancelledError:
                self._keep(consumer, offsets)
                raise
            except Exception as exc:  # PostgreSQL holds the truth; these are for tools
                log.warning("kafka_commit_failed", error=repr(exc))
            self._keep(consumer, offsets)
            if not self._stopping and consumer not in self._timers:  # also if idle from now
                self._timers[consumer] = asyncio.create_task(
                    self._later(consumer, self.interval), name="kafka-lag-commit"
                )

    def _keep(self, consumer: Any, offsets: Mapping[TopicPartition, int]) -> None:
        """Kept for the next commit (the newer offset of a partition wins)."""
        kept = self._applied.setdefault(consumer, {})
        for tp, offset in offsets.items():
            kept[tp] = max(offset, kept.get(tp, -1))

    async def _cancel_timers(self) -> None:
        tasks = list(self._timers.values())
        self._timers.clear()
        for task in tasks:
            task.cancel()
        # A timer cancelled mid-commit puts its offsets back before it ends.
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _later(self, consumer: Any, wait: float) -> None:
        await asyncio.sleep(wait)
        if self._timers.get(consumer) is asyncio.current_task():
            del self._timers[consumer]
        await self.commit(consumer)
