"""End to end: every service and the gateway as `sanzheng up` runs them, the province
published as fast as the broker takes it, timed from the first inbound publish to the last
graduation decision stored by the certificates service (with `enrollment-first`, the
enrollments first until the system is quiet, then the rest: timed from the first
enrollment, the wait included)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sanzheng.bench import workload
from sanzheng.bench.caught_up import wait_caught_up
from sanzheng.bench.environment import BenchEnvironment, connect
from sanzheng.bench.services import per_event
from sanzheng.bench.system import machine_cpu_seconds
from sanzheng_shared.service import ServiceSpec


@dataclass
class ProcessFigures:
    """One service process over the run: what it consumed, in how many batches, and the CPU
    it used from ready to quiet. Per inbound event, the CPU figures add up to the system's
    Python cost of one school event on its whole way to a decision."""

    messages: int
    batches: int | None
    cpu_seconds: float | None

    def as_dict(self, inbound_events: int) -> dict[str, Any]:
        out: dict[str, Any] = {"messages": self.messages, "batches": self.batches}
        if self.batches:
            out["records_per_batch"] = round(self.messages / self.batches, 1)
        if self.cpu_seconds is not None:
            out["cpu_seconds"] = round(self.cpu_seconds, 2)
            out["cpu_ms_per_inbound_event"] = round(1000 * self.cpu_seconds / inbound_events, 3)
        return out


@dataclass
class EndToEndResult:
    order: str
    students: int
    inbound_events: int
    seconds: float
    seconds_until_quiet: float
    publish_seconds: float
    messages_consumed: int
    decisions: int
    database: dict[str, int]
    peak_rss_mb: dict[str, float]
    metric_statements: dict[str, float] | None
    restarts: int
    processes: dict[str, ProcessFigures]
    machine: tuple[float, float] | None = None
    """(busy, total) CPU seconds of the whole machine from the first publish to quiet"""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "order": self.order,
            "students": self.students,
            "inbound_events": self.inbound_events,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.inbound_events / self.seconds, 1),
            "seconds_until_quiet": round(self.seconds_until_quiet, 3),
            "publish_seconds": round(self.publish_seconds, 3),
            "messages_consumed": self.messages_consumed,
            "decisions": self.decisions,
            "peak_rss_mb": self.peak_rss_mb,
            "restarts": self.restarts,
        }
        total = sum(self.metric_statements.values()) if self.metric_statements else None
        out.update(per_event(self.database, self.inbound_events, total))
        if self.metric_statements:
            out["statements_per_service"] = self.metric_statements
        out["processes"] = {
            name: figures.as_dict(self.inbound_events) for name, figures in self.processes.items()
        }
        cpu = [f.cpu_seconds for f in self.processes.values() if f.cpu_seconds is not None]
        if cpu and self.inbound_events:
            out["cpu_ms_per_event"] = round(1000 * sum(cpu) / self.inbound_events, 3)
        if self.machine and self.machine[1] > 0 and self.inbound_events:
            busy, total = self.machine
            # Everything: the services, PostgreSQL, the broker, the bench's publisher.
            out["machine_busy_share"] = round(busy / total, 3)
            out["machine_cpu_seconds"] = round(busy, 2)
            out["machine_cpu_ms_per_event"] = round(1000 * busy / self.inbound_events, 3)
        return out


async def run(
    env: BenchEnvironment,
    specs: list[ServiceSpec],
    students: int,
    seed: int,
    *,
    order: str = "student",
    on_student: Any = lambda _n: None,
    on_progress: Any = lambda _p: None,
) -> EndToEndResult:
    topics = env.topics("e2e")
    url = await env.database("e2e")
    system = env.system(url, topics)
    schemas = {spec.schema: list(spec.routes(topics)) for spec in specs}
    try:
        await system.start(tuple(spec.name for spec in specs))
        await system.wait_ready_each()
        cpu_at_ready = system.cpu_seconds()
        machine_at_start = machine_cpu_seconds()
        if order == "enrollment-first":
            enrolled = await workload.publish(
                env.bootstrap, workload.students(students, seed, topics, domains={"enrollment"})
            )
            await wait_caught_up(url, schemas, enrolled.per_topic, on_progress=on_progress)
            rest = workload.students(students, seed, topics, domains=workload.ALL_BUT_ENROLLMENT)
            published = enrolled.then(
                await workload.publish(env.bootstrap, rest, on_student=on_student)
            )
        else:
            published = await workload.publish(
                env.bootstrap, workload.students(students, seed, topics), on_student=on_student
            )
        # Polled once a second, not five times: the stage is timed by its last decision, and
        # the poll's queries (1.5 s of PostgreSQL's CPU in a 20 s run at 0.2 s) are the
        # bench's own load on the machine it measures.
        quiet = await wait_caught_up(
            url, schemas, published.per_topic, on_progress=on_progress, interval=1.0
        )
        rss = system.peak_rss_mb()
        cpu_at_quiet = system.cpu_seconds()
        machine_at_quiet = machine_cpu_seconds()
        metric = await system.statement_metric()
        batches = await system.batch_counts() or {}
        conn = await connect(url)
        try:
            # When the last decision was made: its outbox row's creation (a decision's own
            # decided_at is the broker time of the newest event behind it, for replays).
            row = await conn.fetchrow(
                "SELECT (SELECT extract(epoch FROM max(last_created_at))::float8"
                "  FROM certificates.outbox_published WHERE topic LIKE '%graduation.events')"
                " AS last,"
                " (SELECT count(*) FROM certificates.decisions) AS n"
            )
            consumed_by: dict[str, int] = {}
            for spec in specs:
                consumed_by[spec.name] = await conn.fetchval(
                    "SELECT coalesce(sum(next_offset), 0)::bigint"
                    f" FROM {spec.schema}.consumer_offsets"
                )
        finally:
            await conn.close()
    finally:
        await system.stop()
        await env.delete_topics(topics)
    return EndToEndResult(
        order,
        published.students,
        published.total,
        float(row["last"]) - published.first_at,
        quiet - published.first_at,
        published.last_at - published.first_at,
        sum(consumed_by.values()),
        int(row["n"]),
        await env.statements(url),
        rss,
        metric,
        system.restarts,
        {
            name: ProcessFigures(
                int(consumed_by[name]),
                int(batches[name]) if name in batches else None,
                cpu_at_quiet[name] - cpu_at_ready[name]
                if name in cpu_at_quiet and name in cpu_at_ready
                else None,
            )
            for name in consumed_by
        },
        (
            machine_at_quiet[0] - machine_at_start[0],
            machine_at_quiet[1] - machine_at_start[1],
        )
        if machine_at_start and machine_at_quiet
        else None,
    )
