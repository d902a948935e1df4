"""Apply one consumed batch in one PostgreSQL transaction.

The transaction writes the projection change (the handlers), the de-duplication records,
the outbox rows and the next offset of every partition of the batch. Either all of it is
committed or none of it, so a crash at any moment is repaired by re-reading from the
stored offsets; duplicates then find their (source, id) already applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from sanzheng_shared import failpoints
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.consumer.dead_letter import dead_letter
from sanzheng_shared.consumer.inbox import claim_new, forget, save_offsets
from sanzheng_shared.db.pool import connection, is_transient
from sanzheng_shared.events.envelope import (
    CloudEvent,
    InvalidData,
    NotACloudEvent,
    Reason,
    parse_cloudevent,
    validate_data,
)
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.logging import get_logger
from sanzheng_shared.metrics import BATCH_SECONDS, EVENTS, TRANSIENT_RETRIES
from sanzheng_shared.outbox import OutboxMessage, write_outbox
from sanzheng_shared.policy import PolicyBook

log = get_logger(__name__)

Routes = Mapping[str, Mapping[str, Handler]]
"""topic -> event type -> handler. A type not listed for its topic is dead-lettered."""


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    dead_lettered: int = 0


class _HandlerFailed(Exception):
    """A handler raised a non-transient error: redo the batch isolating each message."""


class BatchProcessor:
    def __init__(
        self,
        *,
        service: str,
        schema: str,
        pool: Any,
        routes: Routes,
        topics: TopicNames,
        policies: PolicyBook | None = None,
    ) -> None:
        self.policies = policies
        self.service = service
        self.schema = schema
        self.pool = pool
        self.routes = routes
        self.topics = topics
        self._known = {t: frozenset(r) for t, r in routes.items()}

    async def process(self, records: Sequence[Any]) -> BatchOutcome:
        """Return once the batch is committed; transient failures are retried, never skipped."""
        isolate = False
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                async with connection(self.pool) as conn, conn.transaction():
                    outcome = await self._apply(conn, records, isolate=isolate)
            except _HandlerFailed as exc:
                log.warning("batch_isolating_failure", error=repr(exc.__cause__))
                isolate = True
                continue
            except Exception as exc:
                if not is_transient(exc):
                    raise
                attempt += 1
                delay = min(30.0, 0.25 * 2**attempt)
                TRANSIENT_RETRIES.labels(self.service).inc()
                log.warning("batch_transient_error", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
            for name in ("applied", "duplicates", "rejected", "dead_lettered"):
                if count := getattr(outcome, name):
                    EVENTS.labels(self.service, name).inc(count)
            return outcome

    def _route(self, topic: str) -> tuple[str, str | None] | None:
        """(the topic whose handlers apply, the school whose own topic it is) or None."""
        if topic in self.routes:
            return topic, None
        school_topic = self.topics.school_topic(topic)
        if school_topic and school_topic[0] in self.routes:
            return school_topic
        return None

    def _dlq_topic(self, topic: str) -> str:
        route = self._route(topic)
        return self.topics.dlq(route[0] if route else topic)

    def _parse(self, record: Any) -> CloudEvent | str:
        route = self._route(record.topic)
        if route is None:
            return f"no route for topic {record.topic!r} in {self.service}"
        known = self._known[route[0]]
        if record.value is None:
            return "empty message (tombstone)"
        try:
            return parse_cloudevent(record.value, known)
        except NotACloudEvent as exc:
            return exc.reason

    async def _apply(self, conn: Any, records: Sequence[Any], *, isolate: bool) -> BatchOutcome:
        outcome = BatchOutcome()
        parsed = [(record, self._parse(record)) for record in records]
        fresh = await claim_new(conn, self.service, dict.fromkeys(_key(r, ev) for r, ev in parsed))
        outbox: list[OutboxMessage] = []
        positions: dict[tuple[str, int], tuple[int, int | None]] = {}
        for record, event in parsed:
            tp = (record.topic, record.partition)
            if record.offset + 1 > positions.get(tp, (0, None))[0]:
                positions[tp] = (record.offset + 1, record.timestamp)
            key = _key(record, event)
            if key not in fresh:
                outcome.duplicates += 1
                continue
            fresh.discard(key)  # the same event twice in one batch applies once
            if not isinstance(event, CloudEvent):
                log.warning("dead_lettered", topic=record.topic, offset=record.offset, reason=event)
                outbox.append(
                    dead_letter(record, event, self.service, self._dlq_topic(record.topic))
                )
                outcome.dead_lettered += 1
                continue
            ctx = HandlerContext(
                conn,
                self.service,
                self.topics,
                record.topic,
                record.partition,
                record.offset,
                self.policies,
            )
            with structlog.contextvars.bound_contextvars(
                event_id=event.id, event_source=event.source, correlation_id=event.correlation_id
            ):
                if isolate:
                    failure = await self._dispatch_isolated(conn, event, ctx)
                    if failure is not None:
                        await forget(conn, self.service, key)
                        outbox.append(
                            dead_letter(
                                record, failure, self.service, self._dlq_topic(record.topic)
                            )
                        )
                        outcome.dead_lettered += 1
                        continue
                else:
                    try:
                        await self._dispatch(event, ctx)
                    except Exception as exc:
                        if is_transient(exc):
                            raise
                        raise _HandlerFailed() from exc
            outbox.extend(ctx.emitted)
            if ctx.rejected:
                outcome.rejected += 1
            else:
                outcome.applied += 1
        await write_outbox(conn, self.schema, outbox)
        await save_offsets(conn, self.service, positions)
        failpoints.reach("before_db_commit")
        return outcome

    async def _dispatch_isolated(
        self, conn: Any, event: CloudEvent, ctx: HandlerContext
    ) -> str | None:
        """Dispatch inside a savepoint; returns why it failed, or None."""
        try:
            async with conn.transaction():  # a savepoint: only this message's effects roll back
                await self._dispatch(event, ctx)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("handler_failed", type=event.type)
            ctx.emitted.clear()
            return f"handler failed: {type(exc).__name__}: {exc}"
        return None

    async def _dispatch(self, event: CloudEvent, ctx: HandlerContext) -> None:
        if not event.subject:
            ctx.reject(
                event, [Reason("DATA_REQUIRED", "`subject` (the student id) is missing", "subject")]
            )
            return
        route = self._route(ctx.topic)
        assert route is not None  # _parse dead-lettered what has no route
        shared_topic, school = route
        if school is not None and event.schoolid != school:
            # Records do not say who produced them: a school's own topic (behind its ACL)
            # is the proof of origin, so an event claiming another school is refused.
            ctx.reject(
                event,
                [
                    Reason(
                        "SCHOOL_MISMATCH",
                        f"an event on {school}'s own topic must have schoolid {school}",
                        "schoolid",
                    )
                ],
            )
            return
        try:
            data = validate_data(event)
        except InvalidData as exc:
            ctx.reject(event, exc.reasons)
            return
        await self.routes[shared_topic][event.type](event, data, ctx)


def _key(record: Any, event: CloudEvent | str) -> tuple[str, str]:
    """The de-duplication key: (source, id) for a CloudEvent; for a message that is not one,
    its position, so that re-reading it does not dead-letter it twice."""
    if isinstance(event, CloudEvent):
        return (event.source, event.id)
    return (f"kafka:{record.topic}/{record.partition}", str(record.offset))
