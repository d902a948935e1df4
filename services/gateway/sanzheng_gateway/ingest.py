"""CloudEvents over HTTP (SPEC §5.2): structured, batch or binary (`ce-*` headers, the body
as `data`), checked strictly, published to the inbound topics for the token's school. All
or nothing: every event is validated *and serialised* before the first one is stored, and
one bad event refuses the batch with the reasons of every bad one, so the school fixes
them together.

Accepted events go to PostgreSQL, not straight to the broker: one transaction writes them
to `accepted_events` and to the gateway's outbox, and the 202 answers after its commit. The
gateway's relay publishes them; `republish.py` publishes them again after the embedded
broker lost them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind

from sanzheng_gateway.bounded import MAX_JSON_DEPTH, json_depth
from sanzheng_shared.db.pool import connection
from sanzheng_shared.events.binary import http_attributes, is_json_media, with_data
from sanzheng_shared.events.catalogue import GATEWAY_ONLY_TYPES, INBOUND_TYPES
from sanzheng_shared.events.envelope import (
    CONTENT_TYPE,
    CloudEvent,
    InvalidData,
    NotACloudEvent,
    parse_cloudevent,
    validate_data,
)
from sanzheng_shared.events.sealing import sealer
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.outbox import OutboxMessage, write_outbox
from sanzheng_shared.tracing import event_span, with_trace

BATCH_TYPE = "application/cloudevents-batch+json"
MAX_BATCH = 1000
DOMAIN_OF = {t: domain for domain, types in INBOUND_TYPES.items() for t in types}


class IngestError(Exception):
    def __init__(
        self, status: int, detail: str, reasons: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.reasons = status, detail, reasons or []


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's parser accepts NaN and Infinity


@dataclass(frozen=True)
class Ready:
    """An event checked and already serialised: sending it cannot fail on its content."""

    domain: str
    event: CloudEvent
    payload: bytes


def check(
    body: bytes,
    content_type: str,
    school_id: str | None,
    headers: Iterable[tuple[str, str]] = (),
) -> list[Ready]:
    """Every event of the body, checked and serialised, or IngestError with reasons.

    Binary mode (`ce-*` headers and a JSON body that is the `data`) is read into the same
    structured document and checked the same way; a reason about an attribute then names
    its header (`ce-schoolid`) in `field`."""
    media = content_type.split(";")[0].strip().lower()
    try:
        attributes = http_attributes(headers)
    except UnicodeDecodeError:
        raise IngestError(400, "a ce-* header is not percent-encoded UTF-8") from None
    except NotACloudEvent as exc:
        reason = {"code": "NOT_A_CLOUDEVENT", "field": exc.attribute, "message": exc.reason}
        raise IngestError(422, "the event is invalid; it was not published", [reason]) from None
    binary = bool(attributes) and media not in (CONTENT_TYPE, BATCH_TYPE)
    if binary and not is_json_media(media):
        raise IngestError(415, "binary mode: the body is the event's data, application/json")
    if not binary and media not in (CONTENT_TYPE, BATCH_TYPE, "application/json"):
        raise IngestError(415, f"content-type must be {CONTENT_TYPE} or {BATCH_TYPE}")
    if json_depth(body) > MAX_JSON_DEPTH:
        raise IngestError(400, f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        doc = json.loads(body, parse_constant=_not_json)
    # ValueError also covers numbers longer than Python's int-parsing limit.
    except (ValueError, RecursionError) as exc:
        raise IngestError(400, f"the body is not JSON: {exc}") from None
    if binary:
        doc = with_data(attributes, content_type, doc)
    batch = not binary and (media == BATCH_TYPE or isinstance(doc, list))
    items = doc if batch else [doc]
    if not isinstance(items, list) or not items:
        raise IngestError(400, "a batch is a non-empty JSON array of CloudEvents")
    if len(items) > MAX_BATCH:
        raise IngestError(413, f"at most {MAX_BATCH} events per batch")

    def attribute(name: str) -> str:
        """How the request names an envelope attribute: its header in binary mode."""
        return f"ce-{name}" if binary else name

    accepted: list[Ready] = []
    reasons: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = {"index": index} if batch else {}
        try:
            event = parse_cloudevent(json.dumps(item).encode(), frozenset(DOMAIN_OF))
            if not event.subject:
                raise InvalidData([])
            validate_data(event)
        except NotACloudEvent as exc:
            at = {"field": attribute(exc.attribute)} if exc.attribute else {}
            reasons.append({**where, "code": "NOT_A_CLOUDEVENT", **at, "message": exc.reason})
            continue
        except InvalidData as exc:
            found = exc.reasons or []
            if not event.subject:
                reasons.append(
                    {
                        **where,
                        "code": "DATA_REQUIRED",
                        "field": attribute("subject"),
                        "message": "`subject` (the student id) is required",
                    }
                )
            reasons += [{**where, **r.as_dict()} for r in found]
            continue
        if event.type in GATEWAY_ONLY_TYPES:
            reasons.append(
                {
                    **where,
                    "code": "TYPE_NOT_ALLOWED",
                    "field": attribute("type"),
                    "message": f"{event.type} is recorded by POST /v1/students/{{id}}/waivers"
                    " (a principal or the bureau), never by a school system",
                }
            )
            continue
        if school_id is not None and event.schoolid != school_id:
            reasons.append(
                {
                    **where,
                    "code": "SCHOOL_MISMATCH",
                    "field": attribute("schoolid"),
                    "message": f"this token publishes for school {school_id} only",
                }
            )
            continue
        # The inbound (source, id) is the services' de-duplication key: a school may only
        # use its own source, or it could claim (and so suppress) another school's events.
        if school_id is not None and event.source != f"sis/{school_id}":
            reasons.append(
                {
                    **where,
                    "code": "SOURCE_MISMATCH",
                    "field": attribute("source"),
                    "message": f"this token publishes with source sis/{school_id} only",
                }
            )
            continue
        # The ingest is the trace's first span unless the school sent a `traceparent`.
        with event_span(f"gateway ingest {event.type}", event, kind=SpanKind.PRODUCER) as tc:
            event = with_trace(event, tc)
        try:
            payload = event.to_json_bytes()
        except ValueError as exc:  # pydantic's serialisation errors are ValueErrors
            reasons.append({**where, "code": "NOT_A_CLOUDEVENT", "message": str(exc)[:200]})
            continue
        accepted.append(Ready(DOMAIN_OF[event.type], event, payload))
    if reasons:
        raise IngestError(422, "some events are invalid; none was published", reasons)
    return accepted


class Ingest:
    def __init__(self, pool: Any, topics: TopicNames, schema: str = "gateway") -> None:
        self.pool, self.topics, self.schema = pool, topics, schema

    async def start(self) -> None:
        pass  # the gateway's outbox relay (its ServiceRuntime) publishes

    async def stop(self) -> None:
        pass

    async def submit(
        self,
        body: bytes,
        content_type: str,
        school_id: str | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> list[str]:
        events = check(body, content_type, school_id, headers)
        return await self.store(events)

    async def publish(self, event: CloudEvent) -> str:
        """An event the gateway made itself (a waiver with its approver from the token),
        stored and relayed like a school's: 202 once PostgreSQL holds it."""
        with event_span(f"gateway {event.type}", event, kind=SpanKind.PRODUCER) as tc:
            event = with_trace(event, tc)
        ready = Ready(DOMAIN_OF[event.type], event, event.to_json_bytes())
        return (await self.store([ready]))[0]

    async def store(self, events: list[Ready]) -> list[str]:
        seal = sealer().seal
        messages = [
            OutboxMessage(
                self.topics.inbound(ready.domain),
                (ready.event.subject or "").encode(),
                ready.payload,
                (("content-type", CONTENT_TYPE.encode()),),
            )
            for ready in events
        ]
        # 202 only once PostgreSQL holds every one: the broker may lose them, this may not.
        async with connection(self.pool) as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO accepted_events (source, id, topic, key, value)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[],"
                " $5::bytea[])",
                [ready.event.source for ready in events],
                [ready.event.id for ready in events],
                [m.topic for m in messages],
                [m.key for m in messages],
                # Kept a week to publish again: a national id in it sealed (SPEC §8).
                [seal(m.value, r.event.data) for m, r in zip(messages, events, strict=True)],
            )
            await write_outbox(conn, self.schema, messages)
        return [ready.event.id for ready in events]
