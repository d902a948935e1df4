"""Issue 16: what a school submitted over HTTP (202) survives an embedded broker that dies
before the services consumed it. Before, the 202 meant "the in-memory broker holds it", and
a broker restart lost it for good."""

from __future__ import annotations

import asyncpg
import httpx

from sanzheng.embedded import EmbeddedBroker, free_port
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_gateway import tokens
from sanzheng_gateway.app import Gateway
from sanzheng_shared.kafka.topics import TopicNames, ensure_topics
from sanzheng_shared.testing import enrolled, eventually, fetch, read_events


async def test_an_accepted_event_survives_a_broker_restart_and_is_applied_once(
    settings, start_service
) -> None:
    broker = EmbeddedBroker.start()
    settings = settings.model_copy(
        update={"kafka_bootstrap": broker.bootstrap, "http_port": free_port()}
    )
    topics = TopicNames(settings.topic_prefix)
    gateway = Gateway(settings)
    await gateway.start()
    try:
        conn = await asyncpg.connect(settings.database_url)
        await conn.execute("SET search_path TO gateway")
        token = await tokens.create(conn, "sis", "SCH001")
        await conn.close()
        # With a national id: the gateway keeps it sealed, and opens it to publish again.
        event = enrolled("HTTP-1", national_id="110105200805011233")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.http_port}") as http:
            answer = await http.post(
                "/v1/events",
                json=event,
                headers={
                    "Authorization": f"Bearer {token}",
                    "content-type": "application/cloudevents+json",
                },
            )
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == [event["id"]]
        # The broker holds it (the relay published it); no service has consumed it yet.
        inbound = topics.inbound("enrollment")
        await eventually(lambda: read_events(broker.bootstrap, inbound), lambda r: len(r) == 1)

        port = broker.port
        broker.process.kill()
        broker.process.wait()
        broker = EmbeddedBroker.start(port)  # same address, empty, a new cluster id
        await ensure_topics(broker.bootstrap, topics.all(), settings.topic_partitions)
        assert await read_events(broker.bootstrap, inbound) == []

        await start_service(ENROLLMENT, kafka_bootstrap=broker.bootstrap)
        students = (
            "SELECT count(*) AS n, min(national_id_masked) AS masked FROM enrollment.students"
            " WHERE student_id = 'HTTP-1'"
        )
        [student] = await eventually(
            lambda: fetch(settings.database_url, students), lambda r: r[0]["n"] == 1, timeout=60
        )
        assert student["masked"].endswith("1233")
        applied = await fetch(
            settings.database_url,
            "SELECT count(*) AS n FROM enrollment.inbox WHERE source = $1 AND id = $2",
            event["source"],
            event["id"],
        )
        assert applied[0]["n"] == 1
        emitted = await eventually(
            lambda: read_events(broker.bootstrap, topics.outbound("enrollment")),
            lambda r: any(e["subject"] == "HTTP-1" for e in r),
        )
        assert [e["type"] for e in emitted if e["subject"] == "HTTP-1"] == ["student.enrolled"]
    finally:
        await gateway.stop()
        broker.stop()
