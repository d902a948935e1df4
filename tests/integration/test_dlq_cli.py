"""`sanzheng dlq list|show|redrive` through the real broker and a running service: a dead
letter is counted with its reason, shown with its headers and body, and re-driven to its
original topic with its key, where the service applies it once."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from sanzheng.main import app
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.consumer.dead_letter import dead_letter
from sanzheng_shared.kafka.topics import TopicNames, ensure_topics
from sanzheng_shared.testing import enrolled, eventually, fetch, read_events, read_topic


@dataclass
class Consumed:
    """A record as the consumer saw it before it was dead-lettered."""

    topic: str
    value: bytes
    key: bytes = b"STU-R"
    partition: int = 1
    offset: int = 3
    headers: tuple = (("content-type", b"application/cloudevents+json"), ("trace", None))


async def _cli(*args: str) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, app, ["dlq", *args])
    assert result.exit_code == 0, result.output
    return result.output


async def _students(url: str) -> list[str]:
    rows = await fetch(url, "SELECT student_id FROM enrollment.students ORDER BY 1")
    return [r["student_id"] for r in rows]


async def test_a_dead_letter_is_listed_shown_and_redriven_once(settings, start_service):
    topics = TopicNames(settings.topic_prefix)
    inbound, dlq_topic = topics.inbound("enrollment"), topics.dlq(topics.inbound("enrollment"))
    bootstrap = ["--bootstrap", settings.kafka_bootstrap]
    await ensure_topics(settings.kafka_bootstrap, topics.all(), 3)
    event = enrolled("STU-R")
    # As dead-lettered by an earlier version (say, a handler that raised on this event).
    letter = dead_letter(
        Consumed(inbound, json.dumps(event).encode()), "handler error: boom", "enrollment"
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            dlq_topic, letter.value, key=letter.key, headers=list(letter.headers)
        )
    finally:
        await producer.stop()
    [stored] = await read_topic(settings.kafka_bootstrap, dlq_topic)
    message_id = f"{stored.partition}:{stored.offset}"

    listed = await _cli("list", dlq_topic, *bootstrap)
    assert message_id in listed and "handler error" in listed and inbound in listed

    shown = await _cli("show", dlq_topic, "--id", message_id, *bootstrap)
    assert "header   x-dlq-reason: handler error: boom" in shown
    assert "header   trace: (null)" in shown
    assert f'"id": "{event["id"]}"' in shown

    await start_service(ENROLLMENT)
    redriven = await _cli("redrive", dlq_topic, "--id", message_id, *bootstrap)
    assert f"-> {inbound}" in redriven
    await eventually(lambda: _students(settings.database_url), lambda s: s == ["STU-R"])

    [again] = await read_topic(settings.kafka_bootstrap, inbound)
    headers = dict(again.headers)
    assert again.key == b"STU-R" and json.loads(again.value)["id"] == event["id"]
    assert headers["x-redriven-from"] == f"{dlq_topic}:{message_id}".encode()
    assert "x-dlq-reason" not in headers and headers["trace"] is None

    # Re-driving everything again changes nothing: the event is de-duplicated by its id.
    await _cli("redrive", dlq_topic, "--all", *bootstrap)
    await eventually(
        lambda: read_topic(settings.kafka_bootstrap, inbound), lambda records: len(records) == 2
    )
    await eventually(
        lambda: fetch(
            settings.database_url,
            "SELECT sum(next_offset) AS n FROM enrollment.consumer_offsets WHERE topic = $1",
            inbound,
        ),
        lambda rows: rows[0]["n"] == 2,
    )
    emitted = await read_events(settings.kafka_bootstrap, topics.outbound("enrollment"))
    assert [e["subject"] for e in emitted] == ["STU-R"]


async def test_redrive_needs_an_id_or_all_and_refuses_an_unknown_id(settings):
    topics = TopicNames(settings.topic_prefix)
    topic = topics.dlq(topics.inbound("enrollment"))
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, app, ["dlq", "redrive", topic, "--bootstrap", settings.kafka_bootstrap]
    )
    assert result.exit_code == 2 and "--id" in result.output
    result = await asyncio.to_thread(
        runner.invoke,
        app,
        ["dlq", "show", topic, "--id", "0:99", "--bootstrap", settings.kafka_bootstrap],
    )
    assert result.exit_code == 1 and "no dead letter 0:99" in result.output
