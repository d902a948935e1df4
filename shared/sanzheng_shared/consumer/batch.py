"""Apply one consumed batch in one PostgreSQL transaction: load, fold, save.

1. Parse every record; claim the new (source, id) keys in the inbox (duplicates stop here).
2. Lock the batch's students (and the shared keys their events may take), in one order.
3. Load every student's state with a constant number of queries (`ProjectionState.load`).
4. Fold the events over it, in partition order, with the services' handlers: plain
   functions, no I/O; `finish` then decides once per student.
5. Save the state, the event log, the outbox, the dead-letter marks and the offsets with a
   constant number of bulk statements, sent together (`engine.writes`): a round trip for
   every run of them on different tables.

Either all of it is committed or none of it, so a crash at any moment is repaired by
re-reading from the stored offsets; duplicates then find their (source, id) already
applied. The number of statements does not depend on the number of records.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from sanzheng_shared import failpoints
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.consumer.dead_letter import dead_letter
from sanzheng_shared.consumer.inbox import (
    allow_redrive,
    claim_new,
    mark_dead_lettered,
    save_offsets,
)
from sanzheng_shared.db.pool import STALE_CACHE_ERRORS, connection, is_transient
from sanzheng_shared.engine import eventlog
from sanzheng_shared.engine.counting import CountingConnection
from sanzheng_shared.engine.locks import lock, student_key
from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.writes import GatheredWrites
from sanzheng_shared.events.binary import kafka_structured
from sanzheng_shared.events.catalogue import DATA_MODELS, GATEWAY_ONLY_TYPES
from sanzheng_shared.events.envelope import (
    CloudEvent,
    InvalidData,
    NotACloudEvent,
    Reason,
    parse_cloudevent,
    validate_data,
)
from sanzheng_shared.kafka.topics import DOMAINS, TopicNames
from sanzheng_shared.logging import get_logger
from sanzheng_shared.metrics import (
    BATCH_SECONDS,
    DB_STATEMENTS,
    EVENTS,
    STUCK,
    TRANSIENT_RETRIES,
)
from sanzheng_shared.outbox import OutboxMessage, write_outbox
from sanzheng_shared.pending import HeldEventFailed
from sanzheng_shared.policy import PolicyBook
from sanzheng_shared.tracing import event_trace_id

log = get_logger(__name__)

_SCHEMA_CHANGED = (asyncpg.exceptions.UndefinedColumnError, *STALE_CACHE_ERRORS)

Routes = Mapping[str, Mapping[str, Handler]]
"""topic -> event type -> handler. On a school's topic a type not listed is dead-lettered;
on another service's topic a catalogue type not listed is passed over (`ignored`)."""

DedupKey = tuple[str, str]


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    ignored: int = 0
    """Events of a catalogue type this service has no handler for, on another service's
    topic (a topic carries several types; each consumer folds the ones it needs)."""
    statements: int = 0


class _EventFailed(Exception):
    """A handler raised while folding one event: that event is dead-lettered, the rest of
    the batch is folded again without it."""

    def __init__(self, key: DedupKey, reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason


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
        state: Callable[[], ProjectionState] = ProjectionState,
        held_notice_after: float = 0.0,
    ) -> None:
        self.policies = policies
        self.held_notice_after = held_notice_after
        self.service = service
        self.schema = schema
        self.pool = pool
        self.routes = routes
        self.topics = topics
        self.new_state = state
        self._inbound = {topics.inbound(d) for d in DOMAINS}
        # A school's topic takes only the types this service handles there; another
        # service's topic may carry any type of the catalogue (a new one included), and
        # only a type the catalogue does not know is a malformed message for the DLQ.
        self._known = {
            t: frozenset(r) if t in self._inbound else frozenset(r) | frozenset(DATA_MODELS)
            for t, r in routes.items()
        }
        self._passed_types: set[tuple[str, str]] = set()  # logged once each
        self._prepared = False
        self.stuck: str | None = None
        """Why the consumer cannot advance (an error that is neither transient nor one
        message's), for readiness; None when it is fine."""

    async def process(self, records: Sequence[Any]) -> BatchOutcome:
        """Return once the batch is committed. Transient failures are retried; one event's
        failure dead-letters that event; nothing is skipped without a trace."""
        poison: dict[DedupKey, str] = {}
        isolate = False
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                async with connection(self.pool) as raw:
                    if not self._prepared:
                        # Once, before the first batch and outside its transaction: the
                        # statements of a batch stay the same from the first one on.
                        await self.new_state().prepare(raw)
                        self._prepared = True
                    async with raw.transaction():
                        conn = CountingConnection(raw)
                        if isolate:
                            outcome = await self._apply_one_by_one(conn, records, poison)
                        else:
                            outcome = await self._apply(conn, records, poison)
                        outcome.statements = conn.statements
            except _EventFailed as exc:
                log.warning("event_dead_lettered_after_handler_error", reason=exc.reason)
                poison[exc.key] = exc.reason
                continue
            except Exception as exc:
                if isinstance(exc, _SCHEMA_CHANGED):
                    # A migration changed a table under this running service: the columns
                    # a batch loads by are read again before the next try.
                    self.new_state().catalog.forget()
                    self._prepared = False
                attempt += 1
                delay = min(30.0, 0.25 * 2**attempt)
                if is_transient(exc):
                    TRANSIENT_RETRIES.labels(self.service).inc()
                    log.warning("batch_transient_error", error=repr(exc), retry_in_s=delay)
                elif not isolate:
                    # The database refused something of one record: find which, alone.
                    log.warning("batch_isolating_failure", error=repr(exc))
                    isolate = True
                    continue
                else:
                    self.stuck = repr(exc)
                    STUCK.labels(self.service).set(1)
                    log.error("consumer_stuck", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            if self.stuck is not None:
                log.info("consumer_unstuck")
                self.stuck = None
                STUCK.labels(self.service).set(0)
            BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
            DB_STATEMENTS.labels(self.service).inc(outcome.statements)
            for name in ("applied", "duplicates", "rejected", "dead_lettered", "ignored"):
                if count := getattr(outcome, name):
                    EVENTS.labels(self.service, name).inc(count)
            return outcome

    # --- routing ------------------------------------------------------------------------
    def _route(self, topic: str) -> tuple[str, str | None] | None:
        """(the topic whose handlers apply, the school whose own topic it is) or None."""
        if topic in self.routes:
            return topic, None
        school_topic = self.topics.school_topic(topic)
        if school_topic and school_topic[0] in self.routes:
            return school_topic
        return None

    def _passed_over(self, record: Any, event: CloudEvent | str) -> bool:
        """A catalogue type this service does not fold, on another service's topic."""
        if not isinstance(event, CloudEvent):
            return False
        route = self._route(record.topic)
        if route is None or event.type in self.routes[route[0]]:
            return False
        if (route[0], event.type) not in self._passed_types:
            self._passed_types.add((route[0], event.type))
            log.info("type_passed_over", topic=route[0], type=event.type)
        return True

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
            # Binary mode (`ce_*` headers, the value as `data`) reads as its structured form.
            return parse_cloudevent(kafka_structured(record.headers, record.value), known)
        except NotACloudEvent as exc:
            return exc.reason

    # --- the batch ----------------------------------------------------------------------
    async def _apply(
        self,
        conn: Any,
        records: Sequence[Any],
        poison: Mapping[DedupKey, str],
        *,
        replay: bool = False,
        emit: bool = True,
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        parsed = [(record, self._parse(record)) for record in records]
        # Passed over before the inbox claims anything: were a type wrongly left out of a
        # route, re-reading the topic after the fix would still find its events.
        passed = [self._passed_over(r, ev) for r, ev in parsed]
        keys = dict.fromkeys(
            _key(r, ev) for (r, ev), p in zip(parsed, passed, strict=True) if not p
        )
        if not replay:
            redriven = [_key(r, ev) for r, ev in parsed if _redriven(r)]
            await allow_redrive(conn, self.service, redriven)
        fresh = set(keys) if replay else await claim_new(conn, self.service, keys)
        dead: list[tuple[DedupKey, str]] = []
        outbox: list[OutboxMessage] = []
        items: list[tuple[Any, CloudEvent]] = []
        positions: dict[tuple[str, int], tuple[int, int | None]] = {}
        for (record, event), passed_over in zip(parsed, passed, strict=True):
            tp = (record.topic, record.partition)
            if record.partition >= 0 and record.offset + 1 > positions.get(tp, (0, None))[0]:
                positions[tp] = (record.offset + 1, record.timestamp)  # (not a clock event)
            if passed_over:
                outcome.ignored += 1
                continue
            key = _key(record, event)
            if key not in fresh:
                outcome.duplicates += 1
                continue
            fresh.discard(key)  # the same event twice in one batch applies once
            reason = event if isinstance(event, str) else poison.get(key)
            if reason is not None:
                log.warning(
                    "dead_lettered", topic=record.topic, offset=record.offset, reason=reason
                )
                outbox.append(
                    dead_letter(record, reason, self.service, self._dlq_topic(record.topic))
                )
                dead.append((key, reason))
                outcome.dead_lettered += 1
                continue
            assert isinstance(event, CloudEvent)
            items.append((record, event))

        state = self.new_state()
        events = [e for _, e in items]
        students = sorted({e.subject for e in events if e.subject})
        # The students first, every other key after their held submissions are read (in
        # `load`): one order for every batch, so two batches never deadlock.
        await lock(conn, [student_key(s) for s in students])
        await state.load(conn, students, events)
        ctx = HandlerContext(self.service, self.topics, state, self.policies, self._dispatch)
        ctx.poisoned = poison
        ctx.held_notice_after = self.held_notice_after
        for record, event in items:
            ctx.begin(record.topic, record.timestamp)
            # What `bound_contextvars` does, without its generator (a third of its cost).
            bound = structlog.contextvars.bind_contextvars(
                event_id=event.id,
                event_source=event.source,
                correlation_id=event.correlation_id,
                # The school's (or the ingest's) trace, on the lines about this event.
                **({"trace_id": trace} if (trace := event_trace_id(event)) else {}),
            )
            try:
                self._dispatch(event, record.topic, ctx)
            except HeldEventFailed as exc:
                log.exception("released_handler_failed", held_id=exc.key[1])
                raise _EventFailed(exc.key, exc.reason) from exc
            except Exception as exc:
                log.exception("handler_failed", type=event.type)
                reason = f"handler failed: {type(exc).__name__}: {exc}"
                raise _EventFailed((event.source, event.id), reason) from exc
            finally:
                structlog.contextvars.reset_contextvars(**bound)
            if ctx.rejected:
                outcome.rejected += 1
            else:
                outcome.applied += 1
        state.finish(ctx)
        writes = GatheredWrites()  # every write below in as few round trips as they allow
        await state.save(writes)
        if emit:
            outbox.extend(ctx.emitted)
        if not replay:
            await eventlog.append(writes, str(uuid.uuid4()), items)
            await mark_dead_lettered(writes, self.service, dead + ctx.dead_letters)
            await save_offsets(writes, self.service, positions)
        await write_outbox(writes, self.schema, outbox)
        await writes.send(conn)
        failpoints.reach("before_db_commit")
        return outcome

    async def _apply_one_by_one(
        self, conn: Any, records: Sequence[Any], poison: Mapping[DedupKey, str]
    ) -> BatchOutcome:
        """After a failure the batch could not attribute: each record alone, in a savepoint;
        one the database still refuses is dead-lettered with the reason, the others go on."""
        total = BatchOutcome()
        parsed = [(r, self._parse(r)) for r in records]
        events = [e for r, e in parsed if isinstance(e, CloudEvent) and not self._passed_over(r, e)]
        students = sorted({e.subject for e in events if e.subject})
        # Every lock first, in the order every batch takes them (the students, then the
        # shared keys), not each event's in turn, which could deadlock with another batch.
        await lock(conn, [student_key(s) for s in students])
        try:
            async with conn.transaction():
                await self.new_state().lock_shared(conn, students, events)
        except Exception as exc:
            if is_transient(exc):
                raise
            # Each event then locks its shared keys as it goes (a deadlock is retried), and
            # one whose keys cannot be locked is dead-lettered below with the reason.
            log.warning("batch_isolation_locks_not_taken", error=repr(exc))
        for record in records:
            try:
                async with conn.transaction():
                    outcome = await self._apply(conn, [record], poison)
            except Exception as exc:
                if is_transient(exc):
                    raise
                reason = f"refused by the database: {type(exc).__name__}: {exc}"
                outcome = await self._apply(
                    conn, [record], {_key(record, self._parse(record)): reason}
                )
            for name in ("applied", "duplicates", "rejected", "dead_lettered", "ignored"):
                setattr(total, name, getattr(total, name) + getattr(outcome, name))
        return total

    # --- one event ----------------------------------------------------------------------
    def _dispatch(self, event: CloudEvent, topic: str, ctx: HandlerContext) -> None:
        if not event.subject:
            ctx.reject(
                event, [Reason("DATA_REQUIRED", "`subject` (the student id) is missing", "subject")]
            )
            return
        route = self._route(topic)
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
        if school is not None and event.type in GATEWAY_ONLY_TYPES:
            # A school's own topic carries what its system published; waivers are the
            # gateway's, on the shared topic, with the approver taken from a token.
            message = f"{event.type} is recorded by POST /v1/students/{{id}}/waivers"
            message += " (a principal or the bureau), never by a school system"
            ctx.reject(event, [Reason("TYPE_NOT_ALLOWED", message, "type")])
            return
        if shared_topic in self._inbound and (reason := self._tenancy(event, ctx)):
            ctx.reject(event, [reason])
            return
        try:
            data = validate_data(event)
        except InvalidData as exc:
            ctx.reject(event, exc.reasons)
            return
        failpoints.handler_entered(event.id)
        self.routes[shared_topic][event.type](event, data, ctx)

    @staticmethod
    def _tenancy(event: CloudEvent, ctx: HandlerContext) -> Reason | None:
        """A school writes only about its own students, under its own source (SPEC §8)."""
        if event.schoolid and event.source != f"sis/{event.schoolid}":
            return Reason(
                "SOURCE_MISMATCH",
                f"a school's events must have source sis/{event.schoolid}",
                "source",
            )
        assert event.subject
        owner = ctx.state.owner(event.subject)
        if owner is not None and owner != event.schoolid and not _may_transfer(event):
            # Says nothing of the owner: one school must not learn another's students.
            return Reason(
                "STUDENT_OTHER_SCHOOL",
                "this student is not enrolled at your school",
                "subject",
            )
        return None


REDRIVEN_FROM = "x-redriven-from"


def _redriven(record: Any) -> bool:
    """Re-published by `sanzheng dlq redrive` (which sets this header): an explicit act."""
    return any(k == REDRIVEN_FROM for k, _ in (record.headers or ()))


def _may_transfer(event: CloudEvent) -> bool:
    """The receiving school and the bureau take part in a transfer of another school's
    student (the enrollment service checks who agreed to what)."""
    if event.type != "student.transferred":
        return False
    to_school = (event.data or {}).get("to_school_id") if isinstance(event.data, dict) else None
    return event.source.startswith("bureau/") or (
        event.schoolid is not None and event.schoolid == to_school
    )


def _key(record: Any, event: CloudEvent | str) -> DedupKey:
    """The de-duplication key: (source, id) for a CloudEvent; for a message that is not one,
    a hash of its content (key and value), so that re-reading it does not dead-letter it
    twice while a new message at the same position (after the broker lost its history) is
    still dead-lettered."""
    if isinstance(event, CloudEvent):
        return (event.source, event.id)
    digest = hashlib.sha256(record.key or b"")
    digest.update(b"\x00" + (record.value or b""))
    return (f"kafka:{record.topic}", digest.hexdigest())
