"""The bench in order: fill the inbound topics once, then raw limit, naive peer, each service
alone, end to end, latency; every stage on its own database and topics."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sanzheng.bench import end_to_end, inflate, latency, naive, raw, report, services, workload
from sanzheng.bench.environment import BenchEnvironment, describe_machine, settings_in_effect
from sanzheng_shared.kafka.topics import DOMAINS, TopicNames
from sanzheng_shared.settings import Settings

STAGES = ("raw", "naive", *services.ORDER, "e2e", "latency")
ALIASES = {"services": services.ORDER, "all": STAGES}


def parse_stages(text: str) -> list[str]:
    """`all`, or a comma-separated subset of STAGES (`services` means the four services)."""
    chosen: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        names = ALIASES.get(part, (part,))
        for name in names:
            if name not in STAGES:
                raise ValueError(f"unknown stage {name!r}; choose from {', '.join(STAGES)}")
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise ValueError("no stage chosen")
    # A service alone reads what the services before it emitted: they run first.
    last = max((services.ORDER.index(n) for n in chosen if n in services.ORDER), default=-1)
    needed = set(chosen) | set(services.ORDER[: last + 1])
    return [s for s in STAGES if s in needed]


@dataclass
class BenchConfig:
    students: int = 10_000
    rate: float = 1_000.0
    latency_seconds: float = 30.0
    seed: int = 2026
    naive_events: int = 50_000
    count_statements: bool = False
    state_students: int | None = None
    """Also run each service alone again with this many students already in its database."""
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    service_log: str | None = None
    """Where the services' warnings, errors and restarts go (the bench's console shows none)."""
    pg_settings: dict[str, str] = field(default_factory=dict)
    """Settings of the embedded PostgreSQL (`--pg-setting`), e.g. a production shared_buffers."""
    order: str = "student"
    """How the end-to-end and latency stages send the province (`workload.ORDERS`)."""


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


@contextmanager
def _task(progress: Progress, description: str, total: int | None) -> Iterator[TaskID]:
    task = progress.add_task(description, total=total)
    try:
        yield task
    finally:
        progress.update(task, visible=False)


async def run_bench(config: BenchConfig, settings: Settings, console: Console) -> dict[str, Any]:
    from sanzheng.main import all_specs

    specs = {spec.name: spec for spec in all_specs()}
    env = await BenchEnvironment.open(settings, config.count_statements, config.pg_settings)
    stages: dict[str, Any] = {}
    started = datetime.now(UTC)
    machine = describe_machine()
    load_before = os.getloadavg()
    try:  # whatever fails from here, the broker and database it started are stopped
        postgres = await settings_in_effect(
            env.admin_url, sorted({"shared_buffers", "work_mem", *config.pg_settings})
        )
        if config.service_log is not None:
            env.log_path = Path(config.service_log)
            env.log_path.write_text("")
        console.print(
            f"broker {env.bootstrap}, PostgreSQL {'embedded' if env.infra else 'external'};"
            f" SQL cost counted with {env.statement_source};"
            f" {', '.join(f'{k}={v}' for k, v in postgres.items())}"
        )
        with _progress(console) as progress:
            fill = env.topics("fill")
            filled: Counter[str] = Counter()
            total = 0
            if {"raw", "naive"} & set(config.stages):
                published = await _publish(env, config, fill, progress, "publishing the province")
                filled, total = published.per_topic, published.total
                console.print(
                    f"published {published.total:,} events for {published.students:,} students"
                    f" in {published.last_at - published.first_at:.1f} s"
                )
            inbound = [fill.inbound(d) for d in DOMAINS]
            if "raw" in config.stages:
                with _task(progress, "raw limit", total) as t:
                    result = await raw.run(
                        env.bootstrap,
                        await env.database("raw"),
                        inbound,
                        total,
                        lambda n: progress.advance(t, n),
                    )
                stages["raw"] = result.as_dict()
                console.print(f"raw limit: {stages['raw']['events_per_s']:,.0f} events/s")
            if "naive" in config.stages:
                url = await env.database("naive")
                sample = min(total, config.naive_events)
                with _task(progress, "naive peer", sample) as t:
                    nresult = await naive.run(
                        env.bootstrap,
                        url,
                        inbound,
                        sample,
                        f"{fill.prefix}naive",
                        lambda n: progress.advance(t, n),
                    )
                stages["naive"] = nresult.as_dict() | services.per_event(
                    await env.statements(url), nresult.events, None
                )
                console.print(f"naive peer: {stages['naive']['events_per_s']:,.0f} events/s")
            if filled:
                await env.delete_topics(fill)
            chosen = [n for n in services.ORDER if n in config.stages]
            databases: dict[str, str] = {}
            if chosen:
                alone = await _alone(env, config, specs, chosen, "svc", {}, progress)
                for name, sresult in alone.items():
                    databases[name] = sresult.database_url
                    stages.setdefault("services", {})[name] = sresult.as_dict()
                    console.print(
                        f"{name} alone: {sresult.messages:,} messages,"
                        f" {stages['services'][name]['events_per_s']:,.0f} events/s"
                    )
            if config.state_students and databases:
                stages["services_at_scale"] = await _at_scale(
                    env, config, specs, databases, stages["services"], progress, console
                )
            if "e2e" in config.stages:
                await env.drop_databases()  # the stages before leave nothing to vacuum
                with (
                    _task(progress, "end to end: publishing", config.students) as tp,
                    _task(progress, "end to end: consuming", None) as tc,
                ):
                    eresult = await end_to_end.run(
                        env,
                        list(specs.values()),
                        config.students,
                        config.seed,
                        order=config.order,
                        on_student=lambda n: progress.advance(tp, n),
                        on_progress=lambda p: progress.update(
                            tc, completed=p.consumed, total=max(p.expected, 1)
                        ),
                    )
                stages["end_to_end"] = eresult.as_dict()
                console.print(
                    f"end to end: {eresult.inbound_events:,} events,"
                    f" {stages['end_to_end']['events_per_s']:,.0f} events/s"
                )
            if "latency" in config.stages:
                await env.drop_databases()
                budget = max(1, int(config.rate * config.latency_seconds))
                with _task(progress, f"latency at {config.rate:,.0f} events/s", budget) as t:
                    lresult = await latency.run(
                        env,
                        list(specs.values()),
                        config.rate,
                        budget,
                        config.seed + 1,
                        order=config.order,
                        on_event=lambda: progress.advance(t, 1),
                    )
                stages["latency"] = lresult.as_dict()
    finally:
        await env.close()
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "machine": machine
        | {
            # Other work on the machine moves every figure: say how busy it was.
            "load_average_1_5_15_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        },
        "config": asdict(config),
        "statement_source": env.statement_source,
        "postgres_settings": postgres,
        "stages": stages,
    }
    results["ratios"] = report.ratios(stages)
    return results


async def _publish(
    env: BenchEnvironment,
    config: BenchConfig,
    topics: TopicNames,
    progress: Progress,
    what: str,
) -> workload.Published:
    """The province (same seed, same events) on freshly created `topics`."""
    await env.create_topics(topics)
    with _task(progress, what, config.students) as t:
        return await workload.publish(
            env.bootstrap,
            workload.students(config.students, config.seed, topics),
            on_student=lambda n: progress.advance(t, n),
        )


async def _alone(
    env: BenchEnvironment,
    config: BenchConfig,
    specs: dict[str, Any],
    names: list[str],
    stage: str,
    databases: dict[str, str],
    progress: Progress,
) -> dict[str, services.ServiceResult]:
    """Each service alone in the order the data flows, on this stage's own topics: each
    reads what the ones before it published, and its own submissions once it has taken
    those (services.run_alone). On `databases[name]` when given, else a fresh database."""
    topics = env.topics(stage)
    await env.create_topics(topics)
    on_topics: Counter[str] = Counter()
    out: dict[str, services.ServiceResult] = {}
    try:
        for name in names:
            own = topics.inbound(name)
            with _task(progress, f"generating {name}'s submissions", None):
                spool = await asyncio.to_thread(
                    workload.spool, config.students, config.seed, topics, {own}
                )

            async def inbound(spool: Path = spool) -> Counter[str]:
                sent = await workload.publish(env.bootstrap, workload.spooled(spool))
                return Counter(sent.per_topic)

            description = f"{name} alone" + (", large state" if databases else "")
            with _task(progress, description, None) as t:
                sresult, emitted = await services.run_alone(
                    env,
                    specs[name],
                    topics,
                    on_topics,
                    lambda p, t=t: progress.update(
                        t, completed=p.consumed, total=max(p.expected, 1)
                    ),
                    url=databases.get(name),
                    inbound=inbound,
                )
            on_topics += emitted
            out[name] = sresult
    finally:
        await env.delete_topics(topics)
    return out


async def _at_scale(
    env: BenchEnvironment,
    config: BenchConfig,
    specs: dict[str, Any],
    databases: dict[str, str],
    small: dict[str, Any],
    progress: Progress,
    console: Console,
) -> dict[str, Any]:
    """Each service alone again over the same workload, its database first grown to
    `state_students` other students (inflate.py): the cost of an event at a large state
    against the cost at the workload's own."""
    assert config.state_students
    copies = max(1, config.state_students // config.students)
    out: dict[str, Any] = {"state_students": copies * config.students}
    rows: dict[str, dict[str, int]] = {}
    for name, url in databases.items():
        with _task(progress, f"growing {name} ×{copies}", None) as t:

            def growing(table: str, t: TaskID = t, name: str = name) -> None:
                progress.update(t, description=f"growing {name}: {table}")

            grown = await inflate.grow(url, specs[name].schema, copies, on_table=growing)
        console.print(f"{name}: {grown.rows_before:,} rows grown to {grown.rows_after:,}")
        rows[name] = {"before": grown.rows_before, "after": grown.rows_after}
    results = await _alone(env, config, specs, list(databases), "scale", databases, progress)
    for name, sresult in results.items():
        figures = sresult.as_dict()
        # The service's own CPU per event, which the machine's load does not move; without
        # it, the inverse of the rate (same events, same machine).
        first_cpu, cpu = small[name].get("cpu_ms_per_event"), figures.get("cpu_ms_per_event")
        figures["cost_vs_small_state"] = round(
            cpu / first_cpu
            if cpu and first_cpu
            else small[name]["events_per_s"] / figures["events_per_s"],
            2,
        )
        first_all, all_ = (
            small[name].get("machine_cpu_ms_per_event"),
            figures.get("machine_cpu_ms_per_event"),
        )
        if first_all and all_:
            # PostgreSQL's part of the cost too (its indexes deepen, its cache holds less).
            figures["machine_cost_vs_small_state"] = round(all_ / first_all, 2)
        figures["database_rows"] = rows[name]
        out[name] = figures
        console.print(
            f"{name} alone at {out['state_students']:,} students: "
            f"{figures['events_per_s']:,.0f} events/s, cost ×{figures['cost_vs_small_state']}"
        )
    return out


def write_outputs(
    results: dict[str, Any],
    out: Path | None,
    chart: Path | None,
    console: Console,
    markdown: bool,
) -> None:
    for table in report.tables(results):
        console.print(table)
    if markdown:
        console.print(report.markdown(results), markup=False, highlight=False, soft_wrap=True)
    if out is not None:
        report.write_json(results, out)
        console.print(f"wrote {out}")
    if chart is not None:
        report.write_chart(results, chart)
        console.print(f"wrote {chart}")
