"""Poison that once took a whole batch down with it, through a real service: each such
message is dead-lettered with its reason, and every other message of the batch is applied."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer

from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.testing import enrolled, eventually, fetch, read_topic


async def test_a_nul_in_the_id_and_a_null_header_are_dead_lettered_and_the_rest_applied(
    settings, start_service
):
    topics = TopicNames(settings.topic_prefix)
    inbound = topics.inbound("enrollment")
    nul_id = enrolled("STU-NUL") | {"id": "evt\u00001"}
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        # One partition (one key) so that all four land in one batch, poison first.
        for value, headers in [
            (json.dumps(nul_id).encode(), [("content-type", b"application/cloudevents+json")]),
            (b"not a cloudevent", [("trace", None), ("content-type", b"text/plain")]),
            (json.dumps(enrolled("STU-1")).encode(), []),
            (json.dumps(enrolled("STU-2")).encode(), []),
        ]:
            await producer.send_and_wait(inbound, value, key=b"same", headers=headers)
    finally:
        await producer.stop()
    await start_service(ENROLLMENT)

    await eventually(
        lambda: fetch(
            settings.database_url, "SELECT student_id FROM enrollment.students ORDER BY 1"
        ),
        lambda rows: [r["student_id"] for r in rows] == ["STU-1", "STU-2"],
    )
    dead = await eventually(
        lambda: read_topic(settings.kafka_bootstrap, topics.dlq(inbound)), lambda r: len(r) == 2
    )
    by_offset = {dict(r.headers)["x-original-offset"]: r for r in dead}
    assert b"control character" in dict(by_offset[b"0"].headers)["x-dlq-reason"]
    assert by_offset[b"1"].value == b"not a cloudevent"
    assert ("trace", None) in list(by_offset[b"1"].headers), "the null header is kept as null"
