"""Kafka's committed offsets, which lag tools (kafka-consumer-groups, exporters) read: the
services keep their positions in PostgreSQL and commit them to Kafka after each batch, so
a group that has caught up shows no lag, the last batch before it went idle included."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.testing import enrolled, eventually, fetch, publish


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        total = 0
        for p in sorted(consumer.partitions_for_topic(topic) or set()):
            total += await consumer.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await consumer.stop()


async def test_a_caught_up_group_shows_no_lag_to_kafka_tools(settings, start_service) -> None:
    topics = TopicNames(settings.topic_prefix)
    runtime = await start_service(ENROLLMENT)
    inbound = topics.inbound("enrollment")
    await publish(settings.kafka_bootstrap, inbound, [enrolled(f"STU-{i}") for i in range(30)])
    await eventually(
        lambda: fetch(settings.database_url, "SELECT count(*) AS n FROM enrollment.students"),
        lambda rows: rows[0]["n"] == 30,
    )
    # Then one more, alone: the last batch before the group goes idle.
    await publish(settings.kafka_bootstrap, inbound, [enrolled("STU-LAST")])
    await eventually(
        lambda: _committed(settings.kafka_bootstrap, runtime.group_id, inbound),
        lambda n: n == 31,
        timeout=20,
    )


async def test_a_steady_flow_of_small_batches_commits_to_kafka_about_once_a_second(
    settings, start_service, monkeypatch
) -> None:
    # A commit is a broker round trip, awaited: once per batch it was one more for every
    # small batch of a steady flow, for the lag tools' sake only.
    commits: list[float] = []
    commit = AIOKafkaConsumer.commit

    async def counted(self: AIOKafkaConsumer, offsets: object = None) -> None:
        commits.append(time.monotonic())
        await commit(self, offsets)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", counted)
    topics = TopicNames(settings.topic_prefix)
    runtime = await start_service(ENROLLMENT, kafka_commit_interval_seconds=2.0)
    inbound = topics.inbound("enrollment")
    await publish(settings.kafka_bootstrap, inbound, [enrolled("STEADY-0")])
    await eventually(
        lambda: _committed(settings.kafka_bootstrap, runtime.group_id, inbound),
        lambda n: n == 1,
        timeout=20,
    )
    commits.clear()
    started = time.monotonic()
    for i in range(1, 21):  # one event every 0.2 s, each its own small batch
        await publish(settings.kafka_bootstrap, inbound, [enrolled(f"STEADY-{i}")])
        await asyncio.sleep(0.2)
    await eventually(
        lambda: _committed(settings.kafka_bootstrap, runtime.group_id, inbound),
        lambda n: n == 21,
        timeout=20,
    )
    students = await fetch(settings.database_url, "SELECT count(*) AS n FROM enrollment.students")
    assert students[0]["n"] == 21
    # About one commit per 2 s over the span (not one per batch, twenty), the last included.
    span = commits[-1] - started
    assert len(commits) <= span / 2.0 + 2, (len(commits), span)
