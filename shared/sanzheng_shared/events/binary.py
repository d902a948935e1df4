"""CloudEvents binary content mode (Kafka and HTTP protocol bindings), turned into the
structured document the rest of the system reads.

In binary mode the attributes travel as headers (`ce_<name>` on Kafka, `ce-<name>` over
HTTP), `datacontenttype` as the `content-type` header, and the message body is the bare
`data`. Many SDKs (and Knative's Kafka sink) publish this way by default. Everything after
this module sees one shape, so validation, de-duplication, the event log and replays are
the same for both modes; what the services emit stays structured JSON (SPEC §3.1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from sanzheng_shared.events.envelope import NotACloudEvent

_STRUCTURED = b"application/cloudevents+json"
KAFKA_PREFIX = "ce_"
HTTP_PREFIX = "ce-"
# CloudEvents 1.0: attribute names are lower-case ASCII letters and digits.
_NAME = re.compile(r"[a-z0-9]{1,50}")


def _attribute_name(header: str, prefix: str) -> str:
    name = header.lower()[len(prefix) :]
    if not _NAME.fullmatch(name):
        raise NotACloudEvent(f"header {header[:60]!r} names no CloudEvents attribute", header[:60])
    return name


def is_json_media(media: str) -> bool:
    return media in ("", "application/json", "text/json") or media.endswith("+json")


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def document(
    attributes: Mapping[str, str], content_type: str | None, body: bytes
) -> dict[str, Any]:
    """The structured document of a binary-mode event: its attributes, its data content
    type, and the body parsed as JSON (the only data our catalogue has)."""
    media = _media(content_type)
    if not is_json_media(media):
        raise NotACloudEvent(f"binary-mode data must be JSON, not {media!r}")
    try:
        data = json.loads(body) if body else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotACloudEvent(f"binary-mode data is not JSON: {exc}") from None
    return with_data(attributes, content_type, data)


def with_data(attributes: Mapping[str, str], content_type: str | None, data: Any) -> dict[str, Any]:
    """The structured document of binary-mode attributes and their (parsed) data."""
    doc: dict[str, Any] = dict(attributes)
    doc.pop("data", None)  # an attribute cannot smuggle in `data`: the body is the data
    doc["datacontenttype"] = content_type.strip() if content_type else "application/json"
    doc["data"] = data
    return doc


def _kafka_attributes(
    headers: Iterable[tuple[str, bytes | None]],
) -> tuple[dict[str, str], str | None] | None:
    """The `ce_` attributes of a record's headers and its content type; None when the
    record is structured (its content type says so, or it has no `ce_` header)."""
    headers = list(headers)
    content_type = next(
        (v.decode("utf-8", "replace") for k, v in headers if k.lower() == "content-type" and v),
        None,
    )
    if _media(content_type).startswith("application/cloudevents"):
        return None
    attributes: dict[str, str] = {}
    for name, value in headers:
        if not name.lower().startswith(KAFKA_PREFIX):
            continue
        attribute = _attribute_name(name, KAFKA_PREFIX)
        if value is None:
            raise NotACloudEvent(f"header {name!r} has no value", name)
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise NotACloudEvent(f"header {name!r} is not UTF-8", name) from None
        if attributes.get(attribute, text) != text:
            raise NotACloudEvent(f"header {name!r} is repeated with different values", name)
        attributes[attribute] = text
    return (attributes, content_type) if attributes else None


def kafka_structured(headers: Iterable[tuple[str, bytes | None]] | None, value: bytes) -> bytes:
    """The record's value as a structured CloudEvent: unchanged when the record is in
    structured mode (its content type says so, or it has no `ce_` headers), else built
    from its `ce_` headers with the value as `data`. Raises NotACloudEvent."""
    if isinstance(headers, list | tuple) and len(headers) == 1:
        # What every service emits: the structured content type alone, nothing to look at.
        name, only = headers[0]
        if only == _STRUCTURED and name.lower() == "content-type":
            return bytes(value)
    found = _kafka_attributes(headers or ())
    if found is None:
        return bytes(value)
    attributes, content_type = found
    return json.dumps(document(attributes, content_type, bytes(value)), ensure_ascii=False).encode()


def http_attributes(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The `ce-` attributes of an HTTP request (values percent-decoded, as the HTTP binding
    encodes them). Empty when the request is not in binary mode."""
    return {
        _attribute_name(name, HTTP_PREFIX): unquote(value, errors="strict")
        for name, value in headers
        if name.lower().startswith(HTTP_PREFIX)
    }
