"""CloudEvents over HTTP (SPEC §5.2): structured or batch, checked strictly, published to
the inbound topics for the token's school. All or nothing: one bad event refuses the batch
with the reasons of every bad one, so the school fixes them together."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import AIOKafkaProducer

from sanzheng_shared.events.catalogue import INBOUND_TYPES
from sanzheng_shared.events.envelope import (
    CONTENT_TYPE,
    InvalidData,
    NotACloudEvent,
    parse_cloudevent,
    validate_data,
)
from sanzheng_shared.kafka.topics import TopicNames

BATCH_TYPE = "application/cloudevents-batch+json"
MAX_BATCH = 1000
DOMAIN_OF = {t: domain for domain, types in INBOUND_TYPES.items() for t in types}


class IngestError(Exception):
    def __init__(
        self, status: int, detail: str, reasons: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.reasons = status, detail, reasons or []


def check(body: bytes, content_type: str, school_id: str | None) -> list[tuple[str, Any]]:
    """(topic domain, event) for every event of the body, or IngestError with reasons."""
    media = content_type.split(";")[0].strip().lower()
    if media not in (CONTENT_TYPE, BATCH_TYPE, "application/json"):
        raise IngestError(415, f"content-type must be {CONTENT_TYPE} or {BATCH_TYPE}")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(400, f"the body is not JSON: {exc}") from None
    batch = media == BATCH_TYPE or isinstance(doc, list)
    items = doc if batch else [doc]
    if not isinstance(items, list) or not items:
        raise IngestError(400, "a batch is a non-empty JSON array of CloudEvents")
    if len(items) > MAX_BATCH:
        raise IngestError(413, f"at most {MAX_BATCH} events per batch")
    accepted: list[tuple[str, Any]] = []
    reasons: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = {"index": index} if batch else {}
        try:
            event = parse_cloudevent(json.dumps(item).encode(), frozenset(DOMAIN_OF))
            if not event.subject:
                raise InvalidData([])
            validate_data(event)
        except NotACloudEvent as exc:
            reasons.append({**where, "code": "NOT_A_CLOUDEVENT", "message": exc.reason})
            continue
        except InvalidData as exc:
            found = exc.reasons or []
            if not event.subject:
                reasons.append(
                    {
                        **where,
                        "code": "DATA_REQUIRED",
                        "field": "subject",
                        "message": "`subject` (the student id) is required",
                    }
                )
            reasons += [{**where, **r.as_dict()} for r in found]
            continue
        if school_id is not None and event.schoolid != school_id:
            reasons.append(
                {
                    **where,
                    "code": "SCHOOL_MISMATCH",
                    "field": "schoolid",
                    "message": f"this token publishes for school {school_id} only",
                }
            )
            continue
        accepted.append((DOMAIN_OF[event.type], event))
    if reasons:
        raise IngestError(422, "some events are invalid; none was published", reasons)
    return accepted


class Ingest:
    def __init__(self, bootstrap: str, topics: TopicNames, acks: str = "all") -> None:
        self.topics = topics
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks=acks if acks == "all" else int(acks),
            enable_idempotence=False,
        )

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def submit(self, body: bytes, content_type: str, school_id: str | None) -> list[str]:
        events = check(body, content_type, school_id)
        futures = [
            await self.producer.send(
                self.topics.inbound(domain),
                event.to_json_bytes(),
                key=(event.subject or "").encode(),
                headers=[("content-type", CONTENT_TYPE.encode())],
            )
            for domain, event in events
        ]
        await asyncio.gather(*futures)  # 202 only once the broker acknowledged every one
        return [event.id for _, event in events]
