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
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition

from sanzheng_shared.logging import get_logger

log = get_logger(__name__)


class LagCommits:
    def __init__(self, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._applied: dict[Any, dict[TopicPartition, int]] = {}
        """per consumer: the next offset of each partition, applied but not committed"""
        self._last: dict[Any, float] = {}
        self._timers: dict[Any, asyncio.Task[None]] = {}

    async def applied(self, consumer: Any, records: Sequence[Any]) -> None:
        """The records are applied (committed in PostgreSQL): commit them to Kafka now, or
        within the interval."""
        if consumer is None:
            return
        applied = self._applied.setdefault(consumer, {})
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            if r.offset + 1 > applied.get(tp, -1):
                applied[tp] = r.offset + 1
        wait = self._last.get(consumer, -math.inf) + self.interval - time.monotonic()
        if wait <= 0:
            await self._commit(consumer)
        elif consumer not in self._timers:
            self._timers[consumer] = asyncio.create_task(
                self._later(consumer, wait), name="kafka-lag-commit"
            )

    async def flush(self) -> None:
        """At stop, before the consumers close: what was applied is committed."""
        self.close()
        for consumer in list(self._applied):
            await self._commit(consumer)

    def close(self) -> None:
        """Once the consumers are closed: nothing more can be committed."""
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()

    async def _later(self, consumer: Any, wait: float) -> None:
        await asyncio.sleep(wait)
        if self._timers.get(consumer) is asyncio.current_task():
            del self._timers[consumer]
        await self._commit(consumer)

    async def _commit(self, consumer: Any) -> None:
        offsets = self._applied.pop(consumer, {})
        self._last[consumer] = time.monotonic()
        assigned = consumer.assignment()
        # A partition taken away by a rebalance is its new owner's to commit.
        offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as exc:  # PostgreSQL holds the truth; a lost Kafka commit is harmless
            log.warning("kafka_commit_failed", error=repr(exc))
