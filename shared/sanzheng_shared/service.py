"""One place that wires a service: pool, migrations, topics, the batch consumer, the relay.

Every service is a `ServiceSpec` (its name, routes and migrations) run by `ServiceRuntime`,
so the five services share one anatomy and one lifecycle:
start: migrate -> create topics -> start the relay -> subscribe (seeking to stored offsets);
stop (SIGTERM/SIGINT): finish and commit the batch in hand -> drain the outbox -> close.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from sanzheng_shared import failpoints
from sanzheng_shared.clock import ClockJob
from sanzheng_shared.clock import run_periodically as run_clock
from sanzheng_shared.clock import topic as clock_topic
from sanzheng_shared.collector import settle_after_start
from sanzheng_shared.connectivity import BrokerProbe
from sanzheng_shared.consumer.batch import BatchProcessor, Routes
from sanzheng_shared.consumer.kafka_commits import LagCommits, next_offsets
from sanzheng_shared.consumer.rebalance import SeekToStoredOffsets
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.db.pool import create_pool
from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.health import health_app
from sanzheng_shared.http_server import EmbeddedHttpServer
from sanzheng_shared.kafka.topics import DOMAINS, TopicNames, ensure_topics
from sanzheng_shared.logging import configure_logging, get_logger
from sanzheng_shared.metrics import BROKER_UNREACHABLE, CONSUMER_FETCH_AGE, CONSUMER_LAG
from sanzheng_shared.outbox import OutboxRelay
from sanzheng_shared.pending import announce_periodically
from sanzheng_shared.policy import PolicyBook, PolicyError
from sanzheng_shared.retention import prune_periodically
from sanzheng_shared.settings import Settings, get_settings
from sanzheng_shared.tracing import configure_tracing

log = get_logger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    description: str
    migrations: Path
    routes: Callable[[TopicNames], Routes]
    publishes: Callable[[TopicNames], dict[str, str]] = field(default=lambda _t: {})
    """topic -> what the service emits there (for the AsyncAPI document)."""
    known_students: bool = False
    """Keeps a view of students from enrollment.events, and holds early submissions."""
    state: Callable[[], ProjectionState] = ProjectionState
    """The service's projection as one batch loads, folds and saves it."""
    clock: ClockJob | None = None
    """Events the service raises itself when a date passes (folded like the broker's)."""

    def all_routes(self, topics: TopicNames) -> Routes:
        """What the fold routes: the subscribed topics and the clock's pseudo-topic."""
        routes = dict(self.routes(topics))
        if self.clock is not None:
            routes[clock_topic(self.name)] = dict(self.clock.handlers)
        return routes

    @property
    def schema(self) -> str:
        return self.name.replace("-", "_")


async def _raw_decoder(_message: Any) -> None:
    # The batch processor parses the raw records itself: a non-JSON message must reach it
    # unchanged to be dead-lettered, not fail inside FastStream's decoder.
    return None


def _decodes(value: Any) -> bool:
    """Whether FastStream's parser can decode this header value (bytes in UTF-8)."""
    if type(value) is not bytes:
        return False
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def _decodable(value: Any) -> bytes:
    try:
        value.decode()
    except (AttributeError, UnicodeDecodeError):
        return b""
    return bytes(value)


async def _tolerant_parser(records: Any, original: Any) -> Any:
    """FastStream's batch parser decodes every header value as UTF-8: a null or binary
    header made it raise, and the whole batch was skipped before our code saw it. It gets
    copies whose header values decode; the batch processor gets the records unchanged."""
    batch = records if isinstance(records, tuple | list) else (records,)
    safe = tuple(
        r
        if all(_decodes(v) for _, v in r.headers or ())  # the usual record: nothing to copy
        else dataclasses.replace(r, headers=[(k, _decodable(v)) for k, v in r.headers or ()])
        for r in batch
    )
    message = await original(safe if isinstance(records, tuple | list) else safe[0])
    message.raw_message = records
    return message


class ServiceRuntime:
    def __init__(self, spec: ServiceSpec, settings: Settings | None = None) -> None:
        self.spec = spec
        self.settings = settings or get_settings()
        self.topics = TopicNames(self.settings.topic_prefix)
        self.routes = spec.routes(self.topics)
        self.pool: Any = None
        self.policies: PolicyBook | None = None
        self.processor: BatchProcessor | None = None
        self.relay: OutboxRelay | None = None
        self.http: EmbeddedHttpServer | None = None
        self.pruner: asyncio.Task[None] | None = None
        self.announcer: asyncio.Task[None] | None = None
        self.clock_task: asyncio.Task[None] | None = None
        self.probe: BrokerProbe | None = None
        self._subscribers: list[tuple[str, Any]] = []
        self.lag_commits = LagCommits(self.settings.kafka_commit_interval_seconds)
        self.settle_collector = False
        """True in a service's own process (never in a test's, which starts many): once
        started, its objects are frozen out of the garbage collector (collector.py)."""
        self._started_at = time.time()
        self.broker = KafkaBroker(
            self.settings.kafka_bootstrap or "localhost:9092",
            graceful_timeout=60.0,
            client_id=f"sanzheng-{spec.name}",
            # Through the root handler, so FastStream's own lines are JSON like ours.
            logger=logging.getLogger("sanzheng.faststream"),
            log_level=logging.DEBUG,  # per-message "Received/Processed" lines stay quiet
            description=spec.description,
        )
        self.listener, self.subscriber = self._subscribe(
            topics=list(self.routes), group_id=self.group_id, title=f"{spec.name}:inbound"
        )
        # Each school may publish to its own topic, sis.<domain>.<schoolid> (SPEC §8); they
        # are found by pattern, in a group of their own (a group is one subscription).
        domain = next((d for d in DOMAINS if self.topics.inbound(d) in self.routes), None)
        self.school_listener: SeekToStoredOffsets | None = None
        if domain is not None and self.settings.school_topics:
            self.school_listener, _ = self._subscribe(
                pattern=self.topics.school_pattern(domain),
                group_id=f"{self.group_id}-schools",
                title=f"{spec.name}:schools",
            )
        for topic, description in spec.publishes(self.topics).items():
            self.broker.publisher(topic, schema=CloudEvent, description=description)
        self.app = FastStream(self.broker, logger=None)

    def _subscribe(
        self,
        *,
        group_id: str,
        title: str,
        topics: list[str] | None = None,
        pattern: str | None = None,
    ) -> tuple[SeekToStoredOffsets, Any]:
        holder: list[Any] = []
        listener = SeekToStoredOffsets(
            service=self.spec.name,
            pool=None,
            bootstrap=self.settings.kafka_bootstrap or "localhost:9092",
            get_consumer=lambda: holder[0].consumer if holder else None,
            before_revoke=self.lag_commits.commit,
        )
        subscriber = self.broker.subscriber(
            *(topics or []),
            pattern=pattern,
            group_id=group_id,
            batch=True,
            max_records=self.settings.consumer_max_records,
            batch_timeout_ms=self.settings.consumer_batch_timeout_ms,
            # Offsets live in PostgreSQL; Kafka's committed offset is only for lag tools.
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            # Kafka's rule: heartbeats at most a third of the session timeout.
            heartbeat_interval_ms=min(3_000, self.settings.kafka_session_timeout_ms // 3),
            listener=listener,
            decoder=_raw_decoder,
            parser=_tolerant_parser,
            title=title,
            description=f"CloudEvents consumed by the {self.spec.name} service, in batches",
        )
        holder.append(subscriber)
        self._subscribers.append((group_id, subscriber))

        async def on_batch(body: Any, msg: KafkaMessage) -> None:
            await self._on_batch(msg, subscriber)

        subscriber(on_batch)
        return listener, subscriber

    @property
    def group_id(self) -> str:
        return f"{self.settings.topic_prefix}sanzheng-{self.spec.name}"

    async def _on_batch(self, msg: KafkaMessage, subscriber: Any) -> None:
        assert self.processor is not None
        records = msg.raw_message
        if not isinstance(records, tuple | list):
            records = (records,)
        await self.processor.process(records)
        failpoints.reach("after_db_commit")
        applied = next_offsets(records)  # once per batch, for both figures below
        await self.lag_commits.applied(subscriber.consumer, applied)
        self._record_lag(applied, subscriber.consumer)

    def _record_lag(self, applied: Mapping[TopicPartition, int], consumer: Any) -> None:
        if consumer is None:
            return
        for tp, next_offset in applied.items():
            high = consumer.highwater(tp)
            if high is not None:
                CONSUMER_LAG.labels(self.spec.name, tp.topic, str(tp.partition)).set(
                    max(0, high - next_offset)
                )

    def _record_fetch_age(self) -> None:
        """Per consumer: seconds since a fetch was last answered (aiokafka notes the time of
        every fetch response, an empty one too)."""
        now = time.time()
        if self.probe is not None:
            BROKER_UNREACHABLE.labels(self.spec.name).set(self.probe.unreachable_for())
        for group, subscriber in self._subscribers:
            consumer = getattr(subscriber, "consumer", None)
            last: float = self._started_at
            if consumer is not None:
                for tp in consumer.assignment():
                    stamp = consumer.last_poll_timestamp(tp)
                    if stamp is not None:
                        last = max(last, stamp / 1000)
            CONSUMER_FETCH_AGE.labels(self.spec.name, group).set(max(0.0, now - last))

    def broker_reachable(self) -> bool:
        """False once the broker has not answered for longer than the threshold."""
        return (
            self.probe is None
            or self.probe.unreachable_for() <= self.settings.broker_unreachable_seconds
        )

    async def _database_answers(self) -> bool:
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true"))

    async def ready(self) -> dict[str, bool]:
        database = False
        if self.pool is not None:
            try:  # bounded: a database that does not answer is as unready as one that refuses
                database = await asyncio.wait_for(self._database_answers(), 3.0)
            except Exception:
                database = False
        return {
            "database": bool(database),
            "broker": self.broker_reachable(),
            "partitions_assigned": self.listener.rebalanced,
            # False while the consumer cannot advance (an error it will not skip silently).
            "consumer_advancing": self.processor is None or self.processor.stuck is None,
        }

    async def start(self) -> None:
        settings = self.settings
        if not settings.kafka_bootstrap or not settings.database_url:
            raise SystemExit(
                "SANZHENG_KAFKA_BOOTSTRAP and SANZHENG_DATABASE_URL must be set to run a service "
                "on its own (`sanzheng up` sets them for the embedded ones)"
            )
        self.policies = load_policies(settings)
        self.pool = await create_pool(settings.database_url, self.spec.schema)
        async with self.pool.acquire() as conn:
            await migrate(
                conn,
                self.spec.schema,
                self.spec.migrations,
                known_students=self.spec.known_students,
            )
        await ensure_topics(
            settings.kafka_bootstrap,
            self.topics.all(),
            settings.topic_partitions,
            settings.topic_replication,
        )
        self.processor = BatchProcessor(
            service=self.spec.name,
            schema=self.spec.schema,
            pool=self.pool,
            routes=self.spec.all_routes(self.topics),
            topics=self.topics,
            policies=self.policies,
            state=self.spec.state,
            held_notice_after=settings.held_notice_after_seconds,
        )
        self.listener.pool = self.pool
        if self.school_listener is not None:
            self.school_listener.pool = self.pool
        self.relay = OutboxRelay(
            service=self.spec.name,
            schema=self.spec.schema,
            pool=self.pool,
            bootstrap=settings.kafka_bootstrap,
            acks=settings.kafka_acks,
            batch=settings.outbox_batch,
            poll_seconds=settings.outbox_poll_seconds,
            max_attempts=settings.outbox_max_attempts,
        )
        await self.relay.start()
        self.pruner = asyncio.create_task(
            prune_periodically(self.spec.name, self.pool, settings), name="inbox-pruner"
        )
        # Also at 0 (holds announced at once): holds left unannounced by a run with a
        # delay, or by a replay, are announced still.
        self.announcer = asyncio.create_task(
            announce_periodically(
                self.spec.name,
                self.spec.schema,
                self.pool,
                self.topics,
                settings.held_notice_after_seconds,
            ),
            name="held-notices",
        )
        if self.spec.clock is not None and settings.background_jobs:
            self.clock_task = asyncio.create_task(
                run_clock(self.processor, self.spec.clock), name="clock"
            )
        if settings.service_http_port:
            self.http = EmbeddedHttpServer(
                health_app(self.spec.name, self.ready),
                settings.http_host,
                settings.service_http_port,
            )
            await self.http.start()
        if self.settle_collector:
            settle_after_start(settings.gc_young_threshold)  # before the first batch
        await self.broker.start()
        self.probe = BrokerProbe(settings.kafka_bootstrap, on_tick=self._record_fetch_age)
        await self.probe.start()
        log.info(
            "service_started",
            topics=list(self.routes),
            group_id=self.group_id,
            http=f"http://{settings.http_host}:{self.http.port}" if self.http else None,
        )

    async def stop(self) -> None:
        """Stops within `stop_timeout_seconds` whatever hangs: a step still running then is
        abandoned and the database connections are closed. Nothing is lost by that: offsets
        and the outbox live in PostgreSQL, and the next start resumes from them."""
        log.info("service_stopping")
        deadline = time.monotonic() + self.settings.stop_timeout_seconds
        if self.probe is not None:
            await self._within("broker_probe", self.probe.stop(), deadline)
        await self._within("kafka_commits", self.lag_commits.flush(), deadline)
        # Waits for the batch in hand to commit (graceful_timeout).
        await self._within("consumers", self.broker.stop(), deadline)
        self.lag_commits.close()
        for task in (self.pruner, self.announcer):
            if task is not None:
                task.cancel()
        if self.clock_task is not None:
            self.clock_task.cancel()
        if self.relay is not None:
            await self._within("outbox_relay", self.relay.stop(), deadline)
        if self.http is not None:
            await self._within("http", self.http.stop(), deadline)
        if self.pool is not None and not await self._within(
            "database_pool", self.pool.close(), deadline
        ):
            self.pool.terminate()
        log.info("service_stopped")

    @staticmethod
    async def _within(step: str, work: Awaitable[None], deadline: float) -> bool:
        """Runs one step of the stop until the deadline (at least a second, so the steps
        after a hung one still stop what they can). asyncio.wait_for would wait for a
        cancelled step to finish, which a hung step never does; this leaves it behind. A
        step that fails is logged and the stop goes on."""
        task = asyncio.ensure_future(work)
        await asyncio.wait({task}, timeout=max(1.0, deadline - time.monotonic()))
        if task.done():
            if task.cancelled() or task.exception() is None:
                return True
            log.warning("service_stop_step_failed", step=step, error=repr(task.exception()))
            return False
        task.cancel()
        log.warning(
            "service_stop_step_timed_out",
            step=step,
            action="left behind; the next start resumes from the offsets in PostgreSQL",
        )
        return False

    async def run_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.settle_collector = True
        await self.start()
        watchdog = asyncio.create_task(stop_when_orphaned(stop))
        await stop.wait()
        watchdog.cancel()
        await self.stop()


def load_policies(settings: Settings) -> PolicyBook:
    """A malformed policy file stops the service at start, saying which file and field."""
    try:
        return PolicyBook.load(settings.policy_dir)
    except PolicyError as exc:
        raise SystemExit(f"cannot start: {exc}") from None


async def stop_when_orphaned(stop: asyncio.Event) -> None:
    """Under `sanzheng up`, a service whose supervisor died stops itself (cleanly)."""
    parent = os.environ.get("SANZHENG_SUPERVISOR_PID")
    if not parent:
        return
    while os.getppid() == int(parent):
        await asyncio.sleep(1.0)
    log.warning("supervisor_gone", action="stopping")
    stop.set()


def run_service(spec: ServiceSpec) -> None:
    """Console entry point of a service process."""
    settings = get_settings()
    configure_logging(spec.name, settings.log_level, settings.log_format)
    configure_tracing(spec.name)
    asyncio.run(ServiceRuntime(spec, settings).run_until_signalled())
