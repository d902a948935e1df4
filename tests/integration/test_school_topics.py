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


async def test_a_waiver_on_a_schools_own_topic_is_refused(settings, start_service) -> None:
    """SPEC §3.2: waivers are published by the gateway's waiver endpoints, never by a school
    system. A school's own topic carries what its system published, so a waiver there is
    refused whatever approver it claims; before, a school could grant itself one."""
    from sanzheng_certificates.app import SPEC as CERTIFICATES
    from sanzheng_shared.testing import cloudevent

    topics = TopicNames(settings.topic_prefix)
    own = topics.inbound("certificates", "SCH001")
    await ensure_topics(settings.kafka_bootstrap, [own], partitions=2)
    await start_service(CERTIFICATES, school_topics=True)
    forged = cloudevent(
        "requirement.waived",
        "STU-WAIVED",
        {
            "waiver_id": "forged-1",
            "requirement": "LABOR_MONTH",
            "reason_category": "medical",
            "reason": "x",
            "approver": {"name": "市教育局", "role": "bureau"},
            "granted_on": "2026-01-01",
            "expires_on": "2027-01-01",
        },
    )
    await publish(settings.kafka_bootstrap, own, [forged])
    [rejection] = await eventually(
        lambda: read_events(settings.kafka_bootstrap, topics.rejections), lambda r: len(r) == 1
    )
    assert rejection["data"]["id"] == forged["id"]
    assert [(r["code"], r["field"]) for r in rejection["data"]["reasons"]] == [
        ("TYPE_NOT_ALLOWED", "type")
    ]
    waivers = await fetch(settings.database_url, "SELECT * FROM certificates.waivers")
    assert waivers == []
