"""What a handler gets besides its event: the batch's state and a way to emit, reject or
hold. Handlers are plain functions without I/O: the batch loads the state before the fold
and saves it after, so an effect and its announcement commit together.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sanzheng_shared.events.catalogue import EventData
from sanzheng_shared.events.envelope import CloudEvent, Reason
from sanzheng_shared.events.upcast import current_version
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.outbox import OutboxMessage
from sanzheng_shared.policy import PolicyBook
from sanzheng_shared.tracing import event_span, recording, trace_attributes

_NAMESPACE = uuid.UUID("6f1d0a52-3b55-4c1e-9a4e-5a6e7a0c2b11")


_NAMESPACE_BYTES = _NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """`str(uuid.uuid5(_NAMESPACE, name))` without building a UUID object (a third of the
    cost): SHA-1 of the namespace and the name, version 5 and the RFC 4122 variant set."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def derived_id(service: str, source: str, event_id: str, purpose: str) -> str:
    """Deterministic id of an event a service derives: a replay emits the same id."""
    return _uuid5(f"{service}\x1f{source}\x1f{event_id}\x1f{purpose}")


def content_id(*parts: str) -> str:
    """Deterministic id from content (a decision's, with what came before it)."""
    return _uuid5("\x1f".join(parts))


@dataclass
class HandlerContext:
    """One batch's fold. `state` is the service's projection state for the batch; `topic`
    and `timestamp` describe the record being folded now."""

    service: str
    topics: TopicNames
    state: Any
    policies: PolicyBook | None = None
    dispatch: Callable[[CloudEvent, str, HandlerContext], None] | None = None
    topic: str = ""
    timestamp: int | None = None
    emitted: list[OutboxMessage] = field(default_factory=list)
    rejected: bool = False
    touched: dict[str, int | None] = field(default_factory=dict)
    """students whose facts this batch changed -> the latest broker timestamp behind them"""
    causes: dict[str, CloudEvent] = field(default_factory=dict)
    """students whose facts this batch changed -> the last event that changed them"""
    poisoned: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(source, id) -> why: held submissions whose handler failed in an earlier attempt of
    this batch; a release dead-letters them instead of running them again"""
    dead_letters: list[tuple[tuple[str, str], str]] = field(default_factory=list)
    """(source, id), why: held submissions this batch dead-lettered"""
    held_notice_after: float = 0.0
    """Seconds a held submission waits before `submission.held` is sent (by the service's
    periodic `pending.announce_waiting`); 0 announces it at once"""
    accepted_facts: bool = False
    """Every event folded is one the services already accepted (the gateway's what-if
    over a timeline): take each as the fact it is, without admitting it again."""
    spans: bool = field(default_factory=recording, repr=False)
    """Whether spans are recorded (a provider is set at start-up): asked once per batch,
    not for every event derived"""
    _seen: tuple[int, datetime] | None = field(default=None, repr=False)
    """(timestamp, seen_at) of the record being folded: one datetime per record"""

    def begin(self, topic: str, timestamp: int | None) -> None:
        self.topic, self.timestamp, self.rejected = topic, timestamp, False

    def touch(self, cause: CloudEvent) -> None:
        """The cause's student has new facts: decide again at the end of the batch."""
        assert cause.subject
        latest = self.touched.get(cause.subject)
        if self.timestamp is not None and (latest is None or self.timestamp > latest):
            latest = self.timestamp
        self.touched[cause.subject] = latest
        self.causes[cause.subject] = cause

    @property
    def policy_book(self) -> PolicyBook:
        assert self.policies is not None, "the runtime loads the policies at start"
        return self.policies

    @property
    def source(self) -> str:
        return f"sanzheng/{self.service}"

    def derive(
        self,
        cause: CloudEvent,
        *,
        type: str,
        data: Any,
        purpose: str | None = None,
        subject: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> CloudEvent:
        """A new event caused by `cause`, with a deterministic id, the cause's correlation,
        and the trace context of a span of this service's handling of the cause."""
        attributes: dict[str, Any] = {
            "specversion": "1.0",
            "id": derived_id(self.service, cause.source, cause.id, purpose or type),
            "source": self.source,
            "type": type,
            # A canonical event happened when its cause did; a derived one when it was seen.
            "time": cause.time if type == cause.type and cause.time else self.seen_at(),
            "subject": subject if subject is not None else cause.subject,
            "schoolid": cause.schoolid,
            "dataversion": current_version(type),
            "data": data,
            "correlationid": cause.correlation_id,
            "causationid": f"{cause.source}/{cause.id}",
        }
        if self.spans:
            with event_span(f"{self.service} {cause.type} → {type}", cause) as trace_context:
                attributes.update(trace_context)
        else:  # what event_span yields when no span is recorded, without the generator
            attributes.update(trace_attributes(cause))
        attributes.update(extra or {})
        return CloudEvent.model_validate(attributes)

    def seen_at(self) -> datetime:
        """When the broker received the record being folded: the same in a replay."""
        if self.timestamp is None:
            return datetime.now(UTC)
        if self._seen is None or self._seen[0] != self.timestamp:  # one per record, not per event
            self._seen = (self.timestamp, datetime.fromtimestamp(self.timestamp / 1000, UTC))
        return self._seen[1]

    def emit(self, topic: str, event: CloudEvent) -> None:
        self.emitted.append(OutboxMessage.of_event(topic, event))

    def dead_letter_held(self, event: CloudEvent, topic: str, reason: str) -> None:
        """A held submission whose handler fails goes to its topic's dead letters, as it
        was received (the releasing event is applied: it is not at fault)."""
        from sanzheng_shared.consumer.dead_letter import dead_letter
        from sanzheng_shared.engine.eventlog import LoggedRecord

        shared = self.topics.school_topic(topic)
        record = LoggedRecord(
            topic,
            -1,  # held: its partition and offset were those of an earlier batch
            -1,
            self.timestamp,
            json.dumps(event.model_dump(mode="json", exclude_none=True)).encode(),
            event.subject.encode() if event.subject else None,
        )
        dlq = self.topics.dlq(shared[0] if shared else topic)
        self.emitted.append(dead_letter(record, reason, self.service, dlq))
        self.dead_letters.append(((event.source, event.id), reason))

    def reject(
        self,
        cause: CloudEvent,
        reasons: Iterable[Reason],
        *,
        refers_to: dict[str, str] | None = None,
    ) -> None:
        """A domain rejection is a normal outcome: `submission.rejected` on `sis.rejections`.

        `refers_to` names the object the submission was about (e.g. its internship_id), so
        that other services can tell which object a breach stays open on.
        """
        self.rejected = True
        data: dict[str, Any] = {
            "source": cause.source,
            "id": cause.id,
            "type": cause.type,
            "reasons": [r.as_dict() for r in reasons],
        }
        if refers_to:
            data["refers_to"] = refers_to
        self.emit(
            self.topics.rejections,
            self.derive(cause, type="submission.rejected", data=data, purpose="rejected"),
        )


Handler = Callable[[CloudEvent, EventData, HandlerContext], None]
