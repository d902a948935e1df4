"""Each domain service alone, as its own OS process, over inputs filled before it starts.

The services run in the order the data flows (enrollment, internship, labor-education,
certificates), one at a time, each on a fresh database: a service's inbound topic was
filled with the whole province before the bench started, and the canonical topics it also
reads (`enrollment.events`, …, `sis.rejections`) were filled by the services run before it.
The clock starts when the service is ready (partitions assigned) and stops when it has
consumed every message of its inputs and published everything it emitted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sanzheng.bench.caught_up import outbox_counts, outbox_start, wait_caught_up
from sanzheng.bench.environment import BenchEnvironment, connect, wait_disconnected, wal_written
from sanzheng.bench.system import machine_cpu_seconds, machine_iowait_seconds
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import ServiceSpec

ORDER = ("enrollment", "internship", "labor-education", "certificates")


@dataclass
class ServiceResult:
    name: str
    messages: int
    seconds: float
    database: dict[str, int]
    peak_rss_mb: float | None
    metric_statements: float | None = None
    restarts: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    database_url: str = ""
    cpu_seconds: float | None = None
    """CPU time of the service process from ready to caught up (PostgreSQL's not counted)"""
    machine_cpu_seconds: float | None = None
    """busy CPU time of the whole machine over the same span: the service, PostgreSQL,
    the broker (and whatever else runs on the machine)"""
    wal: tuple[int, int | None] | None = None
    """(bytes, full-page images) of write-ahead log PostgreSQL wrote over the same span"""
    iowait_seconds: float | None = None
    """how long the machine's CPUs sat idle waiting for the disk over the same span"""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "messages": self.messages,
            "messages_per_topic": self.per_topic,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.messages / self.seconds, 1),
            "peak_rss_mb": self.peak_rss_mb,
            "restarts": self.restarts,
        }
        if self.cpu_seconds is not None and self.messages:
            out["cpu_ms_per_event"] = round(self.cpu_seconds * 1000 / self.messages, 3)
        if self.machine_cpu_seconds is not None and self.messages:
            out["machine_cpu_ms_per_event"] = round(
                self.machine_cpu_seconds * 1000 / self.messages, 3
            )
        if self.wal is not None and self.messages:
            out["wal_kb_per_event"] = round(self.wal[0] / 1024 / self.messages, 2)
            if self.wal[1] is not None:
                out["wal_full_page_images_per_event"] = round(self.wal[1] / self.messages, 3)
        if self.iowait_seconds is not None:
            out["io_wait_seconds"] = round(self.iowait_seconds, 2)
        out.update(per_event(self.database, self.messages, self.metric_statements))
        return out


def per_event(
    database: dict[str, int], events: int, metric_statements: float | None
) -> dict[str, Any]:
    """SQL cost per event from the best source there is, saying which."""
    if metric_statements is not None:
        return {
            "statements_per_event": round(metric_statements / events, 2),
            "statements_source": "sanzheng_db_statements_total",
        }
    if "statements" in database:
        return {
            "statements_per_event": round(database["statements"] / events, 2),
            "statements_source": "pg_stat_statements",
        }
    return {
        "transactions_per_event": round(database["transactions"] / events, 3),
        "rows_written_per_event": round(database["rows_written"] / events, 2),
        "statements_source": "pg_stat_database",
    }


async def run_alone(
    env: BenchEnvironment,
    spec: ServiceSpec,
    topics: TopicNames,
    produced: Counter[str],
    on_progress: Any = lambda _p: None,
    url: str | None = None,
    inbound: Callable[[], Awaitable[Counter[str]]] | None = None,
) -> tuple[ServiceResult, Counter[str]]:
    """Run one service over `produced` (messages already on each topic), on a fresh database
    or on `url` (one grown by inflate.py); returns its figures and what it published (the
    next service's input).

    With `inbound`, the service's own inbound topic is empty when it starts: it first takes
    the canonical topics (the students it knows, the facts before it), then `inbound()`
    publishes its submissions. Otherwise which topic a batch drew from first decides how
    many submissions wait for their enrollment (held, then released: three events for one),
    and the same workload cost a third or thrice as much from one run to the next."""
    url = url or await env.database(spec.name)
    # Every hold announced at once: how many holds outlast a delay depends on timing, and
    # the next service's input (and this stage run again at scale) must be the same events.
    system = env.system(url, topics, {"SANZHENG_HELD_NOTICE_AFTER_SECONDS": "0"})
    inputs = list(spec.routes(topics))
    expected = Counter(produced)
    conn = await connect(url)
    try:
        # A grown database's outbox is not scanned while the run is timed.
        since = await outbox_start(conn, [spec.schema])
    finally:
        await conn.close()
    try:
        await system.start((spec.name,))
        ready = await system.wait_ready_each()
        cpu_at_ready = system.cpu_seconds().get(spec.name)
        machine_at_ready = machine_cpu_seconds()
        wal_at_ready, iowait_at_ready = await wal_written(url), machine_iowait_seconds()
        if inbound is not None:
            before = [t for t in inputs if t != topics.inbound(spec.name)]
            await wait_caught_up(
                url, {spec.schema: before}, expected, on_progress=on_progress, since=since
            )
            expected += await inbound()
        done = await wait_caught_up(
            url, {spec.schema: inputs}, expected, on_progress=on_progress, since=since
        )
        rss = system.peak_rss_mb().get(spec.name)
        cpu_at_done = system.cpu_seconds().get(spec.name)
        machine_at_done = machine_cpu_seconds()
        iowait_at_done = machine_iowait_seconds()
        metric = await system.statement_metric()
        conn = await connect(url)
        try:
            rows = await conn.fetch(
                f"SELECT topic, sum(next_offset)::bigint AS n FROM {spec.schema}.consumer_offsets"
                " WHERE topic = ANY($1::text[]) GROUP BY topic",
                inputs,
            )
            emitted = await outbox_counts(conn, [spec.schema], since)
        finally:
            await conn.close()
    finally:
        await system.stop()
    # After the stop, once its sessions are gone: a backend reports its statistics (the
    # full-page images) as it exits. The span then also holds the service's shutdown.
    await wait_disconnected(url)
    wal_at_done = await wal_written(url)
    per_topic = {r["topic"]: int(r["n"]) for r in rows}
    result = ServiceResult(
        spec.name,
        sum(per_topic.values()),
        done - ready,
        await env.statements(url),
        rss,
        metric.get(spec.name) if metric else None,
        system.restarts,
        per_topic,
        url,
        cpu_at_done - cpu_at_ready
        if cpu_at_done is not None and cpu_at_ready is not None
        else None,
        machine_at_done[0] - machine_at_ready[0] if machine_at_done and machine_at_ready else None,
        (
            wal_at_done[0] - wal_at_ready[0],
            wal_at_done[1] - wal_at_ready[1]
            if wal_at_done[1] is not None and wal_at_ready[1] is not None
            else None,
        )
        if wal_at_done and wal_at_ready
        else None,
        max(0.0, iowait_at_done - iowait_at_ready)  # the kernel's count may step back (proc(5))
        if iowait_at_done is not None and iowait_at_ready is not None
        else None,
    )
    return result, emitted
