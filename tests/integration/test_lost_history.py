"""Lost history is told by the broker's offsets, not by how fast a probe fetches (issue 9,
§7); non-CloudEvents are de-duplicated by their content, not by their position."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

from sanzheng_shared.consumer import rebalance
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.engine.eventlog import LoggedRecord
from sanzheng_shared.testing import fetch
from tests.integration.conftest import TOPICS

TP = TopicPartition("sis.enrollment", 0)


class _Probe:
    """A broker whose partition holds offsets [earliest, end); its fetch is slow (nothing
    within the wait), answers out-of-range, or returns the record with `timestamp`."""

    earliest = 0
    end = 100
    fetch: str = "slow"
    timestamp = 1_000

    def __init__(self, **_kwargs: Any) -> None:
        self.position: dict[TopicPartition, int] = {}

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def assign(self, tps: list[TopicPartition]) -> None: ...

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position[tp] = offset

    def pause(self, *_tps: TopicPartition) -> None: ...

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.earliest for tp in tps}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.end for tp in tps}

    async def getmany(self, *_tps: TopicPartition, **_kwargs: Any) -> dict[Any, Any]:
        if self.fetch == "slow":
            return {}
        if self.fetch == "out_of_range":
            raise OffsetOutOfRangeError(dict(self.position))
        tp, offset = next(iter(self.position.items()))
        record = LoggedRecord(tp.topic, tp.partition, offset, self.timestamp, b"{}")
        return {tp: [record]}


def _listener() -> rebalance.SeekToStoredOffsets:
    return rebalance.SeekToStoredOffsets(
        service="enrollment", pool=None, bootstrap="127.0.0.1:1", get_consumer=lambda: None
    )


async def _lost(monkeypatch: Any, stored: int, **broker: Any) -> bool:
    probe = type("Probe", (_Probe,), broker)
    monkeypatch.setattr(rebalance, "AIOKafkaConsumer", probe)
    return TP in await _listener()._lost_history({TP: (stored, 1_000)})


async def test_a_partition_slow_to_fetch_is_not_taken_for_lost_history(monkeypatch) -> None:
    # The record before the stored offset is within the broker's range; a busy broker that
    # does not hand it over within seconds must not send the consumer back to the start.
    assert not await _lost(monkeypatch, 40, earliest=0, end=100, fetch="slow")


async def test_history_before_the_broker_earliest_offset_is_lost(monkeypatch) -> None:
    assert await _lost(monkeypatch, 40, earliest=60, end=100, fetch="slow")


async def test_a_restarted_broker_is_told_by_its_offsets_and_by_the_record(monkeypatch) -> None:
    # Emptied: the stored offset is past the end. Refilled up to it: another record sits
    # where ours was (its timestamp differs), or the broker says the offset is not there.
    assert await _lost(monkeypatch, 40, earliest=0, end=3, fetch="slow")
    assert await _lost(monkeypatch, 40, earliest=0, end=50, fetch="found", timestamp=7)
    assert await _lost(monkeypatch, 40, earliest=0, end=50, fetch="out_of_range")
    assert not await _lost(monkeypatch, 40, earliest=0, end=50, fetch="found", timestamp=1_000)


async def test_new_junk_at_a_dead_lettered_offset_is_dead_lettered_too(
    enrollment: BatchProcessor, database_url: str
) -> None:
    """After the broker lost its history, a new message can land at the offset of an old
    dead letter: it is another message, and must reach the DLQ, not pass as a duplicate."""
    topic = TOPICS.inbound("enrollment")
    first = LoggedRecord(topic, 0, 5, 1, b"not json: the first")
    again = LoggedRecord(topic, 0, 9, 2, b"not json: the first")  # re-published: one message
    other = LoggedRecord(topic, 0, 5, 3, b"not json: another one")  # same position, new
    outcome = await enrollment.process([first])
    assert outcome.dead_lettered == 1
    outcome = await enrollment.process([again])
    assert (outcome.dead_lettered, outcome.duplicates) == (0, 1)
    outcome = await enrollment.process([other])
    assert outcome.dead_lettered == 1, "a new message at an old position was dropped silently"
    rows = await fetch(
        database_url, "SELECT count(*) FROM enrollment.outbox WHERE topic = $1", TOPICS.dlq(topic)
    )
    assert rows[0][0] == 2
