"""Kafka's committed offsets, which lag tools (kafka-consumer-groups, exporters) read: the
services keep their positions in PostgreSQL and commit them to Kafka after each batch, so
a group that has caught up shows no lag, the last batch before it went idle included."""

from __future__ import annotations

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
