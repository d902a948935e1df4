"""A school publishes to its own topic sis.<domain>.<schoolid> (SPEC §8): what it sends
there is consumed like the shared topic, and an event claiming another school is refused."""

from __future__ import annotations

from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.kafka.topics import TopicNames, ensure_topics
from sanzheng_shared.testing import enrolled, eventually, fetch, publish, read_events, read_topic


async def test_a_schools_own_topic_is_consumed_and_checked(settings, start_service) -> None:
    topics = TopicNames(settings.topic_prefix)
    own = topics.inbound("enrollment", "SCH001")
    # Operators create a school's topics (with its ACL); here the test does.
    await ensure_topics(settings.kafka_bootstrap, [own], partitions=2)
    await start_service(ENROLLMENT, school_topics=True)

    mine = enrolled("STU-OWN")  # schoolid SCH001, as the topic
    impostor = enrolled("STU-FAKE") | {"schoolid": "SCH002"}
    await publish(settings.kafka_bootstrap, own, [mine, impostor, b"not an event"])

    students = await eventually(
        lambda: fetch(settings.database_url, "SELECT student_id FROM enrollment.students"),
        lambda rows: len(rows) == 1,
        timeout=60,
    )
    assert students[0]["student_id"] == "STU-OWN"
    [rejection] = await eventually(
        lambda: read_events(settings.kafka_bootstrap, topics.rejections), lambda r: len(r) == 1
    )
    assert rejection["subject"] == "STU-FAKE"
    assert rejection["data"]["reasons"] == [
        {
            "code": "SCHOOL_MISMATCH",
            "field": "schoolid",
            "message": "an event on SCH001's own topic must have schoolid SCH001",
        }
    ]
    # A school topic's dead letters go to the shared DLQ, saying where they came from.
    [dead] = await eventually(
        lambda: read_topic(settings.kafka_bootstrap, topics.dlq(topics.inbound("enrollment"))),
        lambda r: len(r) == 1,
    )
    assert dict(dead.headers)["x-original-topic"] == own.encode()


def test_school_topic_names() -> None:
    topics = TopicNames("p.")
    assert topics.school_topic("p.sis.internship.SCH001") == ("p.sis.internship", "SCH001")
    assert topics.school_topic("p.sis.internship.dlq") is None
    assert topics.school_topic("p.sis.internship.SCH001.dlq") is None
    assert topics.school_topic("p.sis.internship") is None
