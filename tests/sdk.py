"""The official CloudEvents Python SDK as a school's integrator uses it: our test events
(plain dicts, as `sanzheng_shared.testing` builds them) turned into SDK events and put on
the wire in either content mode."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from cloudevents.core.bindings import http, kafka
from cloudevents.core.v1.event import CloudEvent

Mode = Literal["structured", "binary"]
MODES: tuple[Mode, Mode] = ("structured", "binary")


def sdk_event(event: dict[str, Any]) -> CloudEvent:
    attributes = {k: v for k, v in event.items() if k != "data"}
    if isinstance(attributes.get("time"), str):
        attributes["time"] = datetime.fromisoformat(attributes["time"])
    attributes.setdefault("datacontenttype", "application/json")
    return CloudEvent(attributes=attributes, data=event.get("data"))


def http_message(event: dict[str, Any], mode: Mode) -> tuple[dict[str, str], bytes]:
    convert = http.to_binary_event if mode == "binary" else http.to_structured_event
    message = convert(sdk_event(event))
    return dict(message.headers), message.body


def kafka_message(event: dict[str, Any], mode: Mode) -> kafka.KafkaMessage:
    """Keyed by the student id (SPEC §3.1), as a school's producer should."""
    if mode == "binary":
        return kafka.to_binary_event(sdk_event(event), key_mapper=lambda e: e.get_subject())
    message = kafka.to_structured_event(sdk_event(event), key_mapper=lambda e: e.get_subject())
    return message
