"""The consumer mechanism through the real broker and database (issue: Platform, item 3)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from sanzheng_certificates.app import SPEC as CERTIFICATES
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.settings import Settings
from sanzheng_shared.testing import (
    emitted_sql,
    enrolled,
    eventually,
    fetch,
    publish,
    read_events,
)


async def _students(url: str, schema: str = "enrollment", table: str = "students") -> list[str]:
    rows = await fetch(url, f"SELECT student_id FROM {schema}.{table} ORDER BY student_id")
    return [r["student_id"] for r in rows]


async def _emitted(settings: Settings) -> list[dict]:
    return await read_events(
        settings.kafka_bootstrap, TopicNames(settings.topic_prefix).outbound("enrollment")
    )


async def test_an_event_published_twice_at_new_offsets_has_one_effect(settings, start_service):
    topics = TopicNames(settings.topic_prefix)
    await start_service(ENROLLMENT)
    event = enrolled("STU-A")
    # The same event three times: twice in one batch, once more later at a new offset.
    await publish(settings.kafka_bootstrap, topics.inbound("enrollment"), [event, event])
    await eventually(lambda: _students(settings.database_url), lambda s: s == ["STU-A"])
    await publish(
        settings.kafka_bootstrap, topics.inbound("enrollment"), [event, enrolled("STU-B")]
    )
    await eventually(lambda: _students(settings.database_url), lambda s: s == ["STU-A", "STU-B"])

    emitted = await eventually(lambda: _emitted(settings), lambda e: len(e) >= 2)
    assert sorted(e["subject"] for e in emitted) == ["STU-A", "STU-B"]
    assert len({e["id"] for e in emitted}) == 2


async def test_redelivery_of_everything_changes_nothing(settings, start_service):
    topics = TopicNames(settings.topic_prefix)
    runtime = await start_service(ENROLLMENT)
    await publish(
        settings.kafka_bootstrap,
        topics.inbound("enrollment"),
        [enrolled(f"STU-{i}") for i in range(20)],
    )
    await eventually(lambda: _students(settings.database_url), lambda s: len(s) == 20)
    await eventually(lambda: _emitted(settings), lambda e: len(e) == 20)
    await runtime.stop()

    # Forget every stored position: the restarted consumer re-reads the whole topic.
    await fetch(settings.database_url, "DELETE FROM enrollment.consumer_offsets")
    runtime = await start_service(ENROLLMENT)
    await eventually(
        lambda: fetch(
            settings.database_url, "SELECT sum(next_offset) AS n FROM enrollment.consumer_offsets"
        ),
        lambda rows: rows[0]["n"] == 20,
    )
    assert len(await _students(settings.database_url)) == 20
    outbox = await fetch(settings.database_url, emitted_sql("enrollment"))
    assert outbox[0]["n"] == 20, "a redelivered event emitted again"
    assert len(await _emitted(settings)) == 20


async def test_messages_that_are_not_cloudevents_are_dead_lettered_and_the_next_is_processed(
    settings, start_service
):
    topics = TopicNames(settings.topic_prefix)
    inbound = topics.inbound("enrollment")
    await start_service(ENROLLMENT)
    not_a_cloudevent = json.dumps({"hello": "world"}).encode()
    unknown_type = enrolled("STU-X") | {"type": "student.teleported"}
    await publish(
        settings.kafka_bootstrap,
        inbound,
        [b"\x00\xffnot json", not_a_cloudevent, unknown_type, enrolled("STU-OK")],
    )

    await eventually(lambda: _students(settings.database_url), lambda s: s == ["STU-OK"])
    from sanzheng_shared.testing import read_topic

    dead = await eventually(
        lambda: read_topic(settings.kafka_bootstrap, topics.dlq(inbound)), lambda r: len(r) == 3
    )
    by_value = {r.value: dict(r.headers) for r in dead}
    assert b"\x00\xffnot json" in by_value, "the DLQ must hold the original bytes unchanged"
    headers = by_value[b"\x00\xffnot json"]
    assert headers["x-dlq-reason"].startswith(b"not JSON")
    assert headers["x-original-topic"] == inbound.encode()
    assert headers["x-original-offset"] == b"0"
    assert b"specversion" in by_value[not_a_cloudevent]["x-dlq-reason"]
    reasons = [h["x-dlq-reason"] for h in by_value.values()]
    assert any(b"unknown type 'student.teleported'" in r for r in reasons)


async def test_a_submission_with_a_missing_field_is_rejected_with_the_field(
    settings, start_service
):
    topics = TopicNames(settings.topic_prefix)
    await start_service(ENROLLMENT)
    bad = enrolled("STU-BAD")
    del bad["data"]["birth_date"]
    await publish(settings.kafka_bootstrap, topics.inbound("enrollment"), [bad])

    rejections = await eventually(
        lambda: read_events(settings.kafka_bootstrap, topics.rejections), lambda r: len(r) == 1
    )
    rejection = rejections[0]
    assert rejection["type"] == "submission.rejected"
    assert rejection["subject"] == "STU-BAD"
    assert rejection["data"]["id"] == bad["id"] and rejection["data"]["source"] == bad["source"]
    assert rejection["data"]["reasons"] == [
        {
            "code": "DATA_REQUIRED",
            "message": "required field `birth_date` is missing",
            "field": "birth_date",
        }
    ]
    assert await _students(settings.database_url) == []


async def test_the_canonical_event_carries_no_national_id_and_reaches_certificates(
    settings, start_service
):
    topics = TopicNames(settings.topic_prefix)
    await start_service(ENROLLMENT)
    await start_service(CERTIFICATES)
    event = enrolled("STU-C", national_id="110105200805011233")
    await publish(settings.kafka_bootstrap, topics.inbound("enrollment"), [event])

    await eventually(
        lambda: _students(settings.database_url, "certificates", "known_students"),
        lambda s: s == ["STU-C"],
    )
    emitted = await _emitted(settings)
    assert "national_id" not in emitted[0]["data"]
    assert "110105200805011233" not in json.dumps(emitted)
    assert emitted[0]["correlationid"] == event["id"]


async def test_a_database_outage_is_retried_and_loses_nothing(
    settings, start_service, admin_database_url
):
    topics = TopicNames(settings.topic_prefix)
    await start_service(ENROLLMENT)
    await publish(settings.kafka_bootstrap, topics.inbound("enrollment"), [enrolled("STU-1")])
    await eventually(lambda: _students(settings.database_url), lambda s: s == ["STU-1"])

    name = urlsplit(settings.database_url).path.lstrip("/")
    await fetch(admin_database_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    await fetch(
        admin_database_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        name,
    )
    retries_before = _transient_retries()
    await publish(
        settings.kafka_bootstrap,
        topics.inbound("enrollment"),
        [enrolled(f"STU-{i}") for i in range(2, 6)],
    )
    # The consumer must have met the outage (and backed off) before the database returns.
    await eventually(_async(_transient_retries), lambda n: n >= retries_before + 2)
    await fetch(admin_database_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    await eventually(lambda: _students(settings.database_url), lambda s: len(s) == 5, timeout=60)
    # The relay may re-send a row whose "published" mark the outage cut off: at least once,
    # with the same id, which consumers de-duplicate.
    emitted = await eventually(
        lambda: _emitted(settings), lambda e: len({x["id"] for x in e}) == 5, timeout=30
    )
    by_id = {e["id"]: e["subject"] for e in emitted}
    assert sorted(by_id.values()) == [f"STU-{i}" for i in range(1, 6)]


def _transient_retries() -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("sanzheng_transient_retries_total", {"service": "enrollment"})
    return value or 0.0


def _async(f):
    async def probe():
        return f()

    return probe


async def test_a_type_this_service_does_not_fold_on_another_services_topic_is_passed_over(
    settings, start_service
):
    """certificates.events carries waivers and held diplomas too; enrollment folds only the
    certificates it needs. Before, every waiver sent it to enrollment's DLQ."""
    from sanzheng_shared.testing import cloudevent, read_topic

    topics = TopicNames(settings.topic_prefix)
    canonical = topics.outbound("certificates")
    await start_service(ENROLLMENT)
    waived = cloudevent(
        "requirement.waived",
        "STU-W",
        {
            "waiver_id": "W-1",
            "requirement": "LABOR_MONTH",
            "reason_category": "medical",
            "reason": "hospital stay in June",
            "approver": {"role": "registrar", "name": "王老师"},
            "granted_on": "2026-06-01",
            "expires_on": "2026-12-31",
        },
        source="certificates",
    )
    teleported = cloudevent("student.teleported", "STU-W", {}, source="certificates")
    await publish(settings.kafka_bootstrap, canonical, [waived, teleported])
    await publish(settings.kafka_bootstrap, topics.inbound("enrollment"), [enrolled("STU-NEXT")])
    await eventually(lambda: _students(settings.database_url), lambda s: s == ["STU-NEXT"])
    await eventually(
        lambda: fetch(
            settings.database_url,
            "SELECT coalesce(sum(next_offset), 0) AS n FROM enrollment.consumer_offsets"
            " WHERE topic = $1",
            canonical,
        ),
        lambda rows: rows[0]["n"] == 2,
    )
    await eventually(  # every dead letter written is published
        lambda: fetch(
            settings.database_url,
            "SELECT count(*) AS n FROM enrollment.outbox",
        ),
        lambda rows: rows[0]["n"] == 0,
    )
    dead = await read_topic(settings.kafka_bootstrap, topics.dlq(canonical))
    assert [json.loads(r.value)["type"] for r in dead] == ["student.teleported"]
