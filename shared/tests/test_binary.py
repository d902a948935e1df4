"""Binary content mode on Kafka (`ce_*` headers, the value as `data`), produced by the
official CloudEvents SDK, reads as the same event as structured mode."""

from __future__ import annotations

import json

import pytest

from sanzheng_shared.events import NotACloudEvent, parse_cloudevent, validate_data
from sanzheng_shared.events.binary import kafka_structured
from sanzheng_shared.testing import enrolled
from tests.sdk import kafka_message


def _headers(message: object) -> list[tuple[str, bytes]]:
    return list(message.headers.items())  # type: ignore[attr-defined]


def test_binary_and_structured_records_read_as_the_same_event() -> None:
    sent = enrolled("S1") | {"time": "2024-09-01T08:00:00+08:00", "correlationid": "c-1"}
    read = {}
    for mode in ("structured", "binary"):
        message = kafka_message(sent, mode)
        read[mode] = parse_cloudevent(kafka_structured(_headers(message), message.value))
        assert message.key == "S1"
    assert read["binary"] == read["structured"]
    assert read["binary"].schoolid == "SCH001" and read["binary"].correlation_id == "c-1"
    assert validate_data(read["binary"]).name == sent["data"]["name"]


def test_a_record_without_ce_headers_or_with_a_cloudevents_content_type_is_structured() -> None:
    raw = json.dumps(enrolled("S1")).encode()
    assert kafka_structured([], raw) == raw
    assert kafka_structured(None, raw) == raw
    stray = [("content-type", b"application/cloudevents+json"), ("ce_id", b"ignored")]
    assert kafka_structured(stray, raw) == raw


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        ([("ce_id", b"1"), ("content-type", b"text/plain")], b"hi", "must be JSON"),
        ([("ce_id", b"1"), ("content-type", b"application/json")], b"{no", "not JSON"),
        ([("ce_id", b"\xff")], b"{}", "not UTF-8"),
        ([("ce_id", None)], b"{}", "no value"),
        ([("ce_id", b"1"), ("ce_id", b"2")], b"{}", "repeated"),
        ([("ce_Bad-Name", b"1")], b"{}", "names no CloudEvents attribute"),
    ],
)
def test_a_bad_binary_record_is_not_a_cloudevent(
    headers: list[tuple[str, bytes | None]], value: bytes, reason: str
) -> None:
    with pytest.raises(NotACloudEvent, match=reason):
        kafka_structured(headers, value)


def test_a_binary_record_missing_an_attribute_says_which() -> None:
    message = kafka_message(enrolled("S1"), "binary")
    headers = [(k, v) for k, v in _headers(message) if k != "ce_id"]
    with pytest.raises(NotACloudEvent) as err:
        parse_cloudevent(kafka_structured(headers, message.value))
    assert err.value.attribute == "id"


def test_the_trace_id_of_an_event_is_read_from_its_traceparent() -> None:
    from sanzheng_shared.events.envelope import CloudEvent
    from sanzheng_shared.testing import enrolled
    from sanzheng_shared.tracing import event_trace_id

    traced = enrolled("S") | {
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    }
    assert event_trace_id(CloudEvent.model_validate(traced)) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert event_trace_id(CloudEvent.model_validate(enrolled("S"))) is None
    broken = enrolled("S") | {"traceparent": "nonsense"}
    assert event_trace_id(CloudEvent.model_validate(broken)) is None
