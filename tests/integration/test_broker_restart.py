"""The embedded broker keeps topics in memory. When it restarts empty, the offsets stored in
PostgreSQL point past the end of every partition: the services must notice, re-read from
the beginning, and process what is published next, instead of waiting forever."""

from __future__ import annotations

from sanzheng.embedded import EmbeddedBroker
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.testing import enrolled, eventually, fetch, publish


async def _students(url: str) -> int:
    return int((await fetch(url, "SELECT count(*) FROM enrollment.students"))[0][0])


async def test_a_restarted_empty_broker_does_not_strand_the_consumer(settings, start_service):
    broker = EmbeddedBroker.start()
    port = int(broker.bootstrap.rsplit(":", 1)[1])
    settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
    topics = TopicNames(settings.topic_prefix)
    try:
        runtime = await start_service(ENROLLMENT, kafka_bootstrap=broker.bootstrap)
        await publish(
            broker.bootstrap,
            topics.inbound("enrollment"),
            [enrolled(f"OLD-{i}") for i in range(12)],
        )
        await eventually(lambda: _students(settings.database_url), lambda n: n == 12)
        await runtime.stop()
        broker.stop()

        broker = EmbeddedBroker.start(port)  # same address, no history
        assert broker.bootstrap.endswith(f":{port}")
        await start_service(ENROLLMENT, kafka_bootstrap=broker.bootstrap)
        await publish(
            broker.bootstrap, topics.inbound("enrollment"), [enrolled(f"NEW-{i}") for i in range(3)]
        )
        await eventually(lambda: _students(settings.database_url), lambda n: n == 15, timeout=60)
        offsets = await fetch(
            settings.database_url, "SELECT sum(next_offset) AS n FROM enrollment.consumer_offsets"
        )
        assert offsets[0]["n"] == 3, "stored offsets must follow the new, empty broker"
    finally:
        broker.stop()
