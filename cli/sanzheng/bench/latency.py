"""Latency from publish to decision at a fixed offered load.

Every service and the gateway run as in `sanzheng up`; students are published at `rate`
events/s. A consumer of `graduation.events` notes when each `graduation.eligibility_changed`
arrives. A decision carries the `correlationid` of the inbound event that caused it (the
services derive every event from its cause), so its latency is its arrival time minus the
time that inbound event was handed to the producer. A decision without a known correlation
is measured from its student's latest event published before it arrived.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from sanzheng.bench import workload
from sanzheng.bench.caught_up import outbox_counts, wait_caught_up
from sanzheng.bench.environment import BenchEnvironment, connect
from sanzheng.bench.system import machine_cpu_seconds
from sanzheng_shared.service import ServiceSpec


@dataclass
class LatencyResult:
    offered_rate: float
    achieved_rate: float
    events: int
    students: int
    decisions: int
    by_correlation: int
    latencies_ms: list[float]
    machine_while_offered: tuple[float, float] | None = None
    """(busy, total) CPU seconds of the whole machine while the load was offered"""
    services_cpu_seconds: float | None = None
    """the service processes' CPU from the first publish until every event was applied"""
    per_service: dict[str, dict[str, float]] | None = None
    """each service's batches and CPU seconds over the same span: at a steady offered
    load a batch holds few records, and its fixed cost is most of the services' CPU"""

    def as_dict(self) -> dict[str, Any]:
        q = percentiles(self.latencies_ms)
        out: dict[str, Any] = {
            "offered_rate": self.offered_rate,
            "achieved_rate": round(self.achieved_rate, 1),
            "events": self.events,
            "students": self.students,
            "decisions": self.decisions,
            "decisions_matched_by_correlation": self.by_correlation,
            **{k: round(v, 1) for k, v in q.items()},
        }
        if self.machine_while_offered and self.machine_while_offered[1] > 0:
            # Near 1 the machine cannot keep up with the offered rate: events queue, and
            # the latency is mostly the time spent waiting behind them.
            busy, total = self.machine_while_offered
            out["machine_busy_share_while_offered"] = round(busy / total, 3)
        if self.services_cpu_seconds is not None and self.events:
            out["services_cpu_ms_per_event"] = round(
                1000 * self.services_cpu_seconds / self.events, 3
            )
        if self.per_service:
            out["per_service"] = self.per_service
        return out


def percentiles(values: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles (and the mean and max)."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]

    return {
        "p50_ms": rank(50),
        "p95_ms": rank(95),
        "p99_ms": rank(99),
        "max_ms": ordered[-1],
        "mean_ms": sum(ordered) / len(ordered),
    }


class DecisionWatcher:
    """Reads `graduation.events` from the beginning, noting each record's arrival time."""

    def __init__(self, bootstrap: str, topic: str, fetch_max_wait_ms: int = 500) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        # The services' own wait: a longer one would add the bench's fetch to every latency.
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        await consumer.start()
        partitions = consumer.partitions_for_topic(self.topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for record in records:
                    self.arrivals.append((now, json.loads(record.value)))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


async def run(
    env: BenchEnvironment,
    specs: list[ServiceSpec],
    rate: float,
    max_events: int,
    seed: int,
    *,
    order: str = "student",
    on_event: Any = lambda: None,
) -> LatencyResult:
    topics = env.topics("latency")
    url = await env.database("latency")
    system = env.system(url, topics)
    schemas = {spec.schema: list(spec.routes(topics)) for spec in specs}
    sent_at: dict[str, float] = {}
    by_student: dict[str, list[float]] = {}

    def on_send(message: workload.Message, now: float) -> None:
        sent_at[message.event_id] = now
        by_student.setdefault(message.student_id, []).append(now)
        on_event()

    fetch_wait = system.extra_env.get(
        "SANZHENG_KAFKA_FETCH_MAX_WAIT_MS", env.settings.kafka_fetch_max_wait_ms
    )
    watcher = DecisionWatcher(env.bootstrap, topics.graduation, int(fetch_wait))
    spool: Path | None = None
    try:
        await system.start(tuple(spec.name for spec in specs))
        await system.wait_ready_each()
        await watcher.start()
        stream = workload.students(10**9, seed, topics)
        limit: int | None = max_events
        enrolled = workload.Published()
        if order == "enrollment-first":
            # The same students' enrollments first, as fast as the broker takes them; their
            # decisions are not measured. Then everything else at `rate`.
            count = workload.students_for(max_events, seed, topics)
            enrolled = await workload.publish(
                env.bootstrap, workload.students(count, seed, topics, domains={"enrollment"})
            )
            await wait_caught_up(url, schemas, enrolled.per_topic)
            await _all_seen(watcher, url, list(schemas), topics.graduation)
            stream = workload.students(count, seed, topics, domains=workload.ALL_BUT_ENROLLMENT)
            limit = None
        spool = workload.ahead(stream, limit)
        unmeasured = len(watcher.arrivals)
        cpu_before = system.cpu_seconds()
        batches_before = await system.batch_counts() or {}
        machine_before = machine_cpu_seconds()
        published = await workload.publish(
            env.bootstrap, workload.spooled(spool), rate=rate, on_send=on_send
        )
        machine_after = machine_cpu_seconds()
        await wait_caught_up(url, schemas, enrolled.then(published).per_topic)
        cpu_after = system.cpu_seconds()
        batches_after = await system.batch_counts() or {}
        await _all_seen(watcher, url, list(schemas), topics.graduation)
    finally:
        await watcher.stop()
        await system.stop()
        await env.delete_topics(topics)
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.unlink(missing_ok=True)  # read back whole, it is gone already
    arrivals = watcher.arrivals[unmeasured:]
    latencies: list[float] = []
    matched = 0
    for arrived, event in arrivals:
        cause = sent_at.get(str(event.get("correlationid")))
        if cause is not None:
            matched += 1
        else:
            times = by_student.get(str(event.get("subject")), [])
            i = bisect.bisect_right(times, arrived)
            if i == 0:
                continue
            cause = times[i - 1]
        latencies.append((arrived - cause) * 1000)
    duration = max(published.last_at - published.first_at, 1e-6)
    per_service: dict[str, dict[str, float]] = {}
    for name in cpu_after:
        figures: dict[str, float] = {}
        if name in cpu_before and cpu_after[name] >= cpu_before[name]:
            figures["cpu_seconds"] = round(cpu_after[name] - cpu_before[name], 2)
        if name in batches_after:
            figures["batches"] = batches_after[name] - batches_before.get(name, 0.0)
        per_service[name] = figures
    return LatencyResult(
        rate,
        published.total / duration,
        published.total,
        published.students,
        len(arrivals),
        matched,
        latencies,
        (machine_after[0] - machine_before[0], machine_after[1] - machine_before[1])
        if machine_before and machine_after
        else None,
        # A process restarted meanwhile counts from zero again: left out, not negative.
        sum(
            cpu_after[n] - cpu_before[n]
            for n in cpu_after
            if n in cpu_before and cpu_after[n] >= cpu_before[n]
        )
        if cpu_before and cpu_after
        else None,
        per_service or None,
    )


async def _all_seen(watcher: DecisionWatcher, url: str, schemas: list[str], topic: str) -> None:
    """Wait (a minute at most) until the watcher has read every decision published so far."""
    conn = await connect(url)
    try:
        decisions = (await outbox_counts(conn, schemas))[topic]
    finally:
        await conn.close()
    deadline = time.monotonic() + 60
    while len(watcher.arrivals) < decisions and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
