"""`sanzheng`: the command line of SPEC §5.1."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from sanzheng_shared.logging import configure_logging
from sanzheng_shared.settings import Settings, get_settings

app = typer.Typer(
    help="sanzheng (三证): three-certificates graduation tracking for vocational schools.\n\n"
    "Configuration comes from SANZHENG_* environment variables; with "
    "SANZHENG_KAFKA_BOOTSTRAP and SANZHENG_DATABASE_URL unset, `up` and `demo` start an "
    "embedded broker (Tansu) and PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Keeps `sanzheng <command>` a group even while it has few commands."""


REPLICAS_OPTION = typer.Option(
    None,
    "--replicas",
    "-r",
    min=1,
    help="processes of each domain service (enrollment, internship, labor-education, "
    "certificates), in the same consumer groups, named certificates#1, certificates#2, …; "
    "the gateway stays one. Default: $SANZHENG_REPLICAS, else 1.",
)


def _settings(replicas: int | None) -> Settings:
    settings = get_settings()
    if replicas is not None:
        settings = settings.model_copy(update={"replicas": replicas})
    if settings.replicas > settings.topic_partitions:
        typer.echo(
            f"note: {settings.replicas} replicas but {settings.topic_partitions} partitions per "
            "shared topic: the replicas beyond the partition count get no shared partition",
            err=True,
        )
    return settings


@app.command()
def up(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="do not stream the services' logs"),
    replicas: int | None = REPLICAS_OPTION,
) -> None:
    """Run the whole system on this machine until Ctrl-C.

    Prints one line per address (kafka, postgres, each service or replica), then `ready`.
    A service process that exits is restarted (each replica on its own).
    """
    from sanzheng.supervisor import run_system

    settings = _settings(replicas)
    configure_logging("sanzheng", settings.log_level, "console")
    raise typer.Exit(asyncio.run(run_system(settings, stream_logs=not quiet)))


@app.command()
def demo(
    students: int = typer.Option(300, min=1, help="how many synthetic students to load"),
    seed: int = typer.Option(2026, help="seed of the synthetic data (same seed, same data)"),
    exit_after: bool = typer.Option(
        False, "--exit", help="stop after the summary instead of running until Ctrl-C"
    ),
    replicas: int | None = REPLICAS_OPTION,
) -> None:
    """Run the system and load a synthetic province (several schools, classes and cohorts,
    complete, incomplete and rule-breaking lifecycles), then print a summary."""
    from rich.console import Console

    from sanzheng import demo as demo_mod
    from sanzheng.supervisor import System, run_system

    settings = _settings(replicas)
    configure_logging("sanzheng", settings.log_level, "console")
    console = Console()
    generated = demo_mod.generate(students, seed)

    async def after_ready(system: System) -> None:
        import time

        started = time.time()
        sent = await demo_mod.load(system.infra.bootstrap, generated, console)
        console.print(f"published {sent} events for {len(generated)} students")
        rows = await demo_mod.wait_processed(system.infra.database_url, sent)
        # Up to the last decision, not the quiet period wait_processed needs to see it.
        elapsed = await demo_mod.last_decision_epoch(system.infra.database_url) - started
        if elapsed > 0:
            console.print(
                f"decided in about {elapsed:.1f} s: {sent / elapsed:.0f} events/s end to end",
                soft_wrap=True,
            )
        else:  # the database kept an earlier demo's students: every event was a duplicate
            console.print(
                f"no decision changed: {settings.data_dir} already held these students from an"
                " earlier demo (delete it to start afresh)",
                soft_wrap=True,
            )
        console.print(demo_mod.summary_table(rows))
        console.print(
            demo_mod.missing_table(await demo_mod.missing_counts(system.infra.database_url))
        )
        console.print(
            demo_mod.diploma_table(
                await demo_mod.diploma_counts(system.infra.database_url, system.infra.bootstrap)
            )
        )
        console.print(demo_mod.state_table(await demo_mod.state_counts(system.infra.database_url)))
        token = await demo_mod.counselor_token(system.infra.database_url, "SCH001")
        principal = await demo_mod.demo_token(
            system.infra.database_url, "principal", "SCH001", "王校长 (demo)"
        )
        gateway = next(svc for svc in system.services if svc.name == "gateway")
        console.print(f"dashboard  {gateway.url}/", soft_wrap=True)
        console.print(f"counselor token for SCH001 (shown once): {token}", soft_wrap=True)
        console.print(
            f"principal token for SCH001 (shown once; waives requirements): {principal}",
            soft_wrap=True,
        )
        candidate = demo_mod.candidate_policy(settings.data_dir)
        console.print(
            f"what-if under a second policy version: sanzheng what-if --policy {candidate}"
            " --school SCH001 --cohort 2023",
            soft_wrap=True,
        )
        if exit_after:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGTERM)
        else:
            console.print("running; Ctrl-C stops everything")

    raise typer.Exit(asyncio.run(run_system(settings, after_ready=after_ready, stream_logs=False)))


@app.command()
def bench(
    students: int = typer.Option(
        10_000,
        min=1,
        help="synthetic students (about 20 inbound events each, most of them courses), "
        "streamed, never all in memory",
    ),
    rate: float = typer.Option(
        1_000.0, min=1, help="offered load of the latency stage, in inbound events/s"
    ),
    latency_seconds: float = typer.Option(
        30.0, min=1, help="how long the latency stage publishes at --rate"
    ),
    stages: str = typer.Option(
        "all",
        help="comma-separated subset: raw, naive, enrollment, internship, labor-education, "
        "certificates (or `services` for the four), e2e, latency. A service alone needs the "
        "services before it, which then run too",
    ),
    out: Path = typer.Option(  # noqa: B008
        Path("bench-results.json"), help="JSON file of every figure"
    ),
    chart: Path = typer.Option(  # noqa: B008
        Path("bench-results.png"), help="PNG chart: throughput per stage, latency percentiles"
    ),
    no_chart: bool = typer.Option(False, "--no-chart", help="do not draw the chart"),
    markdown: bool = typer.Option(
        False, "--markdown", help="also print the table in Markdown (for docs/scaling.md)"
    ),
    seed: int = typer.Option(2026, help="seed of the synthetic province"),
    count_statements: bool = typer.Option(
        False,
        "--count-statements",
        help="load pg_stat_statements into the embedded PostgreSQL to count every SQL "
        "statement; it costs throughput (about a third end to end here), so figures of such "
        "a run are not comparable",
    ),
    report: Path | None = typer.Option(  # noqa: B008
        None,
        "--report",
        help="measure nothing: print the tables of an earlier results file (and with "
        "--markdown its Markdown), and redraw its chart to --chart",
        exists=True,
        dir_okay=False,
    ),
    naive_events: int = typer.Option(
        50_000,
        min=1,
        help="events the naive peer consumes at most, from the filled topics (it is slow by "
        "design: a whole 1M-student province would take hours)",
    ),
    state_students: int | None = typer.Option(
        None,
        min=1,
        help="then run each service alone again over the same --students, its database "
        "first grown to this many other students (copies of the first run's rows under "
        "other ids, in SQL): the cost of an event at a province's state, e.g. 1000000",
    ),
    pg_setting: list[str] = typer.Option(  # noqa: B008
        [],
        "--pg-setting",
        metavar="NAME=VALUE",
        help="set this on the bench's embedded PostgreSQL before any stage (repeatable), "
        "e.g. --pg-setting shared_buffers=6GB for a production-sized cache; the results "
        "file records the settings in effect",
    ),
    order: str = typer.Option(
        "student",
        help="how the e2e and latency stages send the province. student: each student's "
        "whole record at once, so most submissions arrive before their enrollment is known "
        "and are held, then released (the worst case). enrollment-first: every enrollment, "
        "then, once the system is quiet, the rest (a province's steady state; the "
        "enrollments' own decisions are not in the latency figures)",
    ),
    service_log: Path = typer.Option(  # noqa: B008
        Path("bench-services.log"),
        help="the services' warnings and errors, and every restart of a service, during the "
        "run (a stage's figures include any restart: the tables' `restarts` say how many)",
    ),
) -> None:
    """Measure the system on this machine (SPEC §6), all figures from one run.

    Stages, each on its own database and topics:
      raw        consume → validate → COPY in one process (the limit)
      naive      tutorial FastStream consumer: 1 message, 1 transaction
      enrollment, internship, labor-education, certificates:
                 each service alone, its own process, over inputs filled
                 before it starts, timed from ready until caught up
      e2e        every service and the gateway: first inbound publish
                 to the last graduation decision
      latency    publish → decision (p50, p95, p99) at --rate events/s

    With --state-students N, each service alone runs a second time over the
    same workload with N other students already in its database, and the
    table shows its cost per event against the first run's.

    Also SQL statements per event (sanzheng_db_statements_total, else
    pg_stat_statements, else pg_stat_database transactions) and the peak
    RSS (VmHWM) of each service process. Prints a table with the ratios
    (service ÷ naive, end to end ÷ raw limit); writes --out and --chart.

    With SANZHENG_KAFKA_BOOTSTRAP and SANZHENG_DATABASE_URL unset, starts
    its own embedded broker and PostgreSQL in a temporary directory.
    """
    import json

    from rich.console import Console

    from sanzheng.bench.environment import BadPgSetting, check_setting
    from sanzheng.bench.run import BenchConfig, parse_stages, run_bench, write_outputs
    from sanzheng.bench.workload import ORDERS

    if report is not None:
        earlier = json.loads(report.read_text())
        write_outputs(earlier, None, None if no_chart else chart, Console(), markdown)
        return
    try:
        chosen = parse_stages(stages)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stages") from None
    pg_settings: dict[str, str] = {}
    for item in pg_setting:
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise typer.BadParameter(
                f"{item!r} is not NAME=VALUE (e.g. shared_buffers=6GB)", param_hint="--pg-setting"
            )
        name = name.strip().lower()  # as PostgreSQL folds it, so that PORT is port
        try:
            check_setting(name)
        except BadPgSetting as exc:
            raise typer.BadParameter(str(exc), param_hint="--pg-setting") from None
        pg_settings[name] = value.strip()
    if order not in ORDERS:
        raise typer.BadParameter(
            f"{order!r} is not one of: {', '.join(ORDERS)}", param_hint="--order"
        )
    settings = get_settings()
    configure_logging("sanzheng", "WARNING", "console")
    console = Console()
    config = BenchConfig(
        students,
        rate,
        latency_seconds,
        seed,
        naive_events,
        count_statements,
        state_students,
        chosen,
        str(service_log),
        pg_settings,
        order,
    )
    console.print(f"stages: {', '.join(chosen)}")
    try:
        results = asyncio.run(run_bench(config, settings, console))
    except BadPgSetting as exc:
        raise typer.BadParameter(str(exc), param_hint="--pg-setting") from None
    write_outputs(results, out, None if no_chart else chart, console, markdown)


token_app = typer.Typer(
    help="API tokens: random, shown once, stored hashed, revocable.", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="sis | counselor | principal | bureau | admin"),
    school: str | None = typer.Option(
        None, help="the school a sis/counselor/principal token belongs to"
    ),
    label: str | None = typer.Option(
        None, help="who holds the token (a principal's name is recorded as a waiver's approver)"
    ),
    expires: str | None = typer.Option(
        None, help="lifetime (30d, 12h) or expiry date (2026-07-01); default 90 days"
    ),
    classes: list[str] = typer.Option(  # noqa: B008
        [],
        "--class",
        help="a counselor's class (repeatable): the dashboard opens on the first",
    ),
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from sanzheng import tokens_cli
    from sanzheng_gateway import tokens

    async def create() -> tuple[str, str | None]:
        expires_at = tokens.expiry(expires)
        conn = await tokens_cli.with_gateway_schema(tokens_cli.database_url(get_settings()))
        try:
            token = await tokens.create(conn, role, school, label, expires_at, tuple(classes))
            return token, await tokens.id_of(conn, token)
        finally:
            await conn.close()

    try:
        token, token_id = asyncio.run(create())
    except tokens.TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)
    typer.echo(f"(shown once: keep it; revoke with `sanzheng token revoke {token_id}`)", err=True)


@token_app.command("revoke")
def token_revoke(
    token_id: str = typer.Argument(..., help="the token's id (see `token list`) or the token"),
) -> None:
    """Revoke a token at once."""
    from sanzheng import tokens_cli
    from sanzheng_gateway import tokens

    async def revoke() -> bool:
        conn = await tokens_cli.with_gateway_schema(tokens_cli.database_url(get_settings()))
        try:
            return await tokens.revoke(conn, token_id)
        finally:
            await conn.close()

    # Echo at most the id-sized start: the argument may be the secret itself.
    if not asyncio.run(revoke()):
        typer.echo(f"error: no active token {token_id[:20]}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {token_id[:20]}")


@token_app.command("list")
def token_list() -> None:
    """List tokens (ids, roles, schools; never the tokens themselves)."""
    from rich.console import Console
    from rich.table import Table

    from sanzheng import tokens_cli
    from sanzheng_gateway import tokens

    async def rows() -> list:  # type: ignore[type-arg]
        conn = await tokens_cli.with_gateway_schema(tokens_cli.database_url(get_settings()))
        try:
            return await tokens.list_all(conn)
        finally:
            await conn.close()

    table = Table("token id", "role", "school", "classes", "label", "created", "expires", "revoked")
    for r in asyncio.run(rows()):
        table.add_row(
            r["token_id"],
            r["role"],
            r["school_id"] or "*",
            " ".join(r["classes"] or ()),
            r["label"] or "",
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            f"{r['expires_at']:%Y-%m-%d %H:%M}",
            f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "",
        )
    Console().print(table)


def _api(path: str, token: str | None, url: str | None) -> dict:  # type: ignore[type-arg]
    return _api_pages([path], token, url)[0]


def _api_pages(paths: Any, token: str | None, url: str | None) -> list[dict]:  # type: ignore[type-arg]
    """GET each path in turn (`paths` may be a generator that looks at the answers so far).
    Without --token or $SANZHENG_TOKEN, the CLI acts as the operator who may create tokens
    (it reaches the gateway's database): a bureau token of a few minutes, labelled as the
    CLI's in the access log, revoked when done."""
    import os

    import httpx

    settings = get_settings()
    base = url or f"http://{settings.http_host}:{settings.http_port}"
    token = token or os.environ.get("SANZHENG_TOKEN")
    minted = None
    if not token:
        try:
            token, minted = asyncio.run(_operator_token())
        except Exception as exc:
            typer.echo(
                f"error: no token given and none could be created ({exc});"
                " give --token or set SANZHENG_TOKEN (see `sanzheng token create`)",
                err=True,
            )
            raise typer.Exit(2) from None
    answers: list[dict] = []  # type: ignore[type-arg]
    try:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client:
            for path in paths if not callable(paths) else paths(answers):
                try:
                    response = client.get(path)
                except httpx.HTTPError as exc:
                    typer.echo(f"error: cannot reach the gateway at {base}: {exc}", err=True)
                    raise typer.Exit(1) from None
                if response.status_code != 200:
                    detail = response.json().get("detail") if response.content else ""
                    typer.echo(f"error: {response.status_code}: {detail}", err=True)
                    raise typer.Exit(1)
                answers.append(response.json())
    finally:
        if minted is not None:
            asyncio.run(_revoke(minted))
    return answers


async def _operator_token() -> tuple[str, str]:
    from datetime import UTC, datetime, timedelta

    from sanzheng import tokens_cli
    from sanzheng_gateway import tokens

    conn = await tokens_cli.with_gateway_schema(tokens_cli.database_url(get_settings()))
    try:
        expires = datetime.now(UTC) + timedelta(minutes=5)
        token = await tokens.create(conn, "bureau", None, "sanzheng CLI", expires)
        return token, str(await tokens.id_of(conn, token))
    finally:
        await conn.close()


async def _revoke(token_id: str) -> None:
    from sanzheng import tokens_cli
    from sanzheng_gateway import tokens

    conn = await tokens_cli.with_gateway_schema(tokens_cli.database_url(get_settings()))
    try:
        await tokens.revoke(conn, token_id)
    finally:
        await conn.close()


TOKEN_OPTION = typer.Option(
    None,
    "--token",
    help="API token (default: $SANZHENG_TOKEN, else a bureau token of a few minutes created"
    " in the gateway's database and revoked after)",
)
URL_OPTION = typer.Option(None, "--url", help="gateway URL (default: from SANZHENG_HTTP_PORT)")


@app.command()
def status(
    student_id: str | None = typer.Argument(
        None, help="a student id; without one, the embedded parts of `sanzheng up`"
    ),
    token: str | None = TOKEN_OPTION,
    url: str | None = URL_OPTION,
) -> None:
    """A student's graduation decision and what is missing (GET /v1/students/{id}); without
    a student, the embedded broker and database of `sanzheng up`: their addresses, how
    often they were restarted and when last."""
    from rich.console import Console
    from rich.table import Table

    if student_id is None:
        _parts_status(Console())
        return
    answer = _api(f"/v1/students/{student_id}", token, url)
    console = Console()
    enrollment = answer.get("enrollment") or {}
    console.print(
        f"[bold]{student_id}[/bold] {enrollment.get('name', '')} "
        f"{answer.get('school_id') or ''} {enrollment.get('class_id', '')}"
    )
    decision = answer.get("graduation")
    if not decision:
        console.print("no decision yet")
        return
    console.print(
        "[green]eligible to graduate[/green]"
        if decision["eligible"]
        else "[red]not eligible yet[/red]"
    )
    table = Table("requirement", "met", "state", "due", "detail")
    for r in decision["requirements"]:
        table.add_row(
            r["code"],
            "yes" if r["met"] else "[red]no[/red]",
            r.get("state") or "",
            r.get("due_on") or "",
            r["detail"],
        )
    console.print(table)
    console.print(f"policy {decision['policy_version']}")
    for warning in answer.get("warnings") or []:
        console.print(
            f"[yellow]warning[/yellow] {warning['requirement']} {warning['state']}"
            f" (due {warning.get('due_on') or '-'}): {warning['detail']}"
        )


def _parts_status(console: Any) -> None:
    import json

    from rich.table import Table

    path = get_settings().data_dir / "parts.json"
    if not path.exists():
        console.print(f"no embedded parts recorded in {path} (is `sanzheng up` running here?)")
        raise typer.Exit(1)
    table = Table("part", "address", "restarts", "last restart (UTC)")
    for name, part in json.loads(path.read_text()).items():
        table.add_row(
            name, part["address"], str(part["restarts"]), part.get("last_restart") or "never"
        )
    console.print(table)


@app.command()
def eligibility(
    school: str = typer.Option(..., help="school id"),
    cohort: int | None = typer.Option(None, help="entry year"),
    missing: str | None = typer.Option(None, help="only students missing this requirement"),
    token: str | None = TOKEN_OPTION,
    url: str | None = URL_OPTION,
) -> None:
    """Who may graduate in a school (GET /v1/schools/{id}/graduation)."""
    from urllib.parse import urlencode

    from rich.console import Console
    from rich.table import Table

    query = {
        k: v
        for k, v in {"cohort": cohort, "missing": missing, "page_size": 500}.items()
        if v is not None
    }

    def pages(answers: list[dict]) -> Any:  # type: ignore[type-arg]
        page = 1
        while True:
            yield f"/v1/schools/{school}/graduation?{urlencode(query | {'page': page})}"
            if page * 500 >= answers[-1]["total"]:
                return
            page += 1

    answers = _api_pages(pages, token, url)
    answer = answers[0] | {"students": [s for a in answers for s in a["students"]]}
    console = Console()
    progress = Table("requirement", "met", "of", title=f"{school}: {answer['total']} students")
    for p in answer["progress"]:
        progress.add_row(p["code"], str(p["met"]), str(p["of"]))
    console.print(progress)
    table = Table("student", "name", "class", "eligible", "missing")
    for s in answer["students"]:
        table.add_row(
            s["student_id"],
            s["name"],
            s["class_id"],
            "yes" if s["eligible"] else "no",
            " ".join(s["missing"]),
        )
    console.print(table)


@app.command("what-if")
def what_if(
    policy: Path = typer.Option(..., exists=True, dir_okay=False, help="candidate policy file"),  # noqa: B008
    school: str = typer.Option(..., help="school id"),
    cohort: int | None = typer.Option(None, help="only this entry year"),
    out: Path | None = typer.Option(None, help="CSV to write (default what-if-SCHOOL.csv)"),  # noqa: B008
) -> None:
    """A school's students re-decided under a candidate policy file, changing nothing:
    how many change and who, and a CSV (reads the gateway's database)."""
    from sanzheng import tokens_cli, whatif_cli
    from sanzheng_shared.policy import PolicyError, load_file

    try:
        version = load_file(policy).version
    except PolicyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--policy") from None

    async def go() -> list[dict[str, Any]]:
        conn = await tokens_cli.with_gateway_schema(tokens_cli.database_url(get_settings()))
        try:
            return await whatif_cli.run(conn, policy, school, cohort)
        finally:
            await conn.close()

    rows = asyncio.run(go())
    target = out or Path(f"what-if-{school}.csv")
    whatif_cli.write_csv(rows, target)
    for line in whatif_cli.summary(rows, version):
        typer.echo(line)
    typer.echo(f"wrote {target}")


@app.command()
def replay(
    service: str = typer.Argument(
        ..., help="enrollment | internship | labor-education | certificates | credits | gateway"
    ),
    school: str | None = typer.Option(None, help="only this school's students"),
    student: str | None = typer.Option(None, help="only this student"),
    emit: bool = typer.Option(
        True,
        "--emit/--no-emit",
        help="write what the fold emits to the outbox (the same ids as the live run: "
        "downstream drops unchanged ones as duplicates; a changed policy's decisions go out)",
    ),
) -> None:
    """Rebuild a service's projection from its own log of accepted events, without the
    broker. One transaction: on failure the projection stays as it was."""
    from rich.console import Console

    from sanzheng import replay_cli, tokens_cli

    specs = {spec.name: spec for spec in all_specs()}
    if service not in specs:
        raise typer.BadParameter(f"one of {', '.join(specs)}", param_hint="SERVICE")
    from sanzheng_shared.events.sealing import SealError

    settings = get_settings()
    console = Console(stderr=True)
    try:
        result = asyncio.run(
            replay_cli.run(
                specs[service],
                settings,
                tokens_cli.database_url(settings),
                school=school,
                student=student,
                emit=emit,
                console=console,
            )
        )
    except SealError as exc:
        typer.echo(f"error: {exc}; nothing was changed", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"replayed {result.events} events in {result.batches} batches in "
        f"{result.seconds:.1f} s ({result.per_second:.0f} events/s)"
    )


dlq_app = typer.Typer(
    help="Dead letters (`<topic>.dlq`): counted, inspected and re-driven after a fix.",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")
BOOTSTRAP_OPTION = typer.Option(
    None, "--bootstrap", help="Kafka bootstrap servers (default: $SANZHENG_KAFKA_BOOTSTRAP)"
)


def _bootstrap(given: str | None) -> str:
    bootstrap = given or get_settings().kafka_bootstrap
    if not bootstrap:
        typer.echo(
            "error: give --bootstrap or set SANZHENG_KAFKA_BOOTSTRAP "
            "(`sanzheng up` prints the embedded broker's address)",
            err=True,
        )
        raise typer.Exit(2)
    return bootstrap


@dlq_app.command("list")
def dlq_list(
    topic: str | None = typer.Argument(None, help="a DLQ topic (default: every one)"),
    bootstrap: str | None = BOOTSTRAP_OPTION,
) -> None:
    """Count the dead letters of each DLQ topic by reason; with TOPIC, list them one by one."""
    from rich.console import Console
    from rich.table import Table

    from sanzheng import dlq

    server = _bootstrap(bootstrap)
    topics = [topic] if topic else dlq.dlq_topics(get_settings().topic_prefix)
    console = Console()
    summary = Table("dlq topic", "original topic", "reason", "count")
    for name in topics:
        letters = asyncio.run(dlq.read(server, name))
        for original, kind, count in dlq.count_by_reason(letters):
            summary.add_row(name, original, kind, str(count))
        if topic:
            each = Table("id", "key", "original", "consumer", "reason", title=name)
            for d in letters:
                each.add_row(
                    d.id,
                    (d.key or b"").decode("utf-8", "replace"),
                    f"{d.original_topic}:{d.header('x-original-partition')}:"
                    f"{d.header('x-original-offset')}",
                    d.header("x-dlq-consumer") or "",
                    d.reason[:200],
                )
            console.print(each)
    console.print(summary if summary.row_count else "no dead letters")


@dlq_app.command("show")
def dlq_show(
    topic: str = typer.Argument(..., help="the DLQ topic"),
    message_id: str = typer.Option(..., "--id", help="PARTITION:OFFSET, as `dlq list` shows"),
    bootstrap: str | None = BOOTSTRAP_OPTION,
) -> None:
    """Show one dead letter: its key, headers and body."""
    from sanzheng import dlq

    letters = asyncio.run(dlq.read(_bootstrap(bootstrap), topic))
    try:
        [letter] = dlq.select(letters, [message_id])
    except KeyError:
        typer.echo(f"error: no dead letter {message_id} in {topic}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"id       {topic}:{letter.id}")
    typer.echo(f"key      {letter.key!r}")
    for name, value in letter.headers:
        shown = "(null)" if value is None else value.decode("utf-8", "backslashreplace")
        typer.echo(f"header   {name}: {shown}")
    typer.echo("body")
    typer.echo(dlq.body_text(letter.value))


@dlq_app.command("redrive")
def dlq_redrive(
    topic: str = typer.Argument(..., help="the DLQ topic"),
    message_ids: list[str] | None = typer.Option(  # noqa: B008
        None, "--id", help="PARTITION:OFFSET (repeatable)"
    ),
    everything: bool = typer.Option(False, "--all", help="every dead letter of the topic"),
    bootstrap: str | None = BOOTSTRAP_OPTION,
) -> None:
    """Publish dead letters again to their original topic (same key and body), after a fix.

    Consumers de-duplicate CloudEvents by (source, id): re-driving one twice has one effect.
    """
    from sanzheng import dlq

    if bool(message_ids) == everything:
        typer.echo("error: give --id (one or more) or --all", err=True)
        raise typer.Exit(2)
    server = _bootstrap(bootstrap)
    letters = asyncio.run(dlq.read(server, topic))
    try:
        chosen = dlq.select(letters, None if everything else message_ids)
    except KeyError as exc:
        typer.echo(f"error: no dead letter {exc.args[0]} in {topic}", err=True)
        raise typer.Exit(1) from None
    for letter, target in asyncio.run(dlq.redrive(server, chosen)):
        typer.echo(f"re-driven {topic}:{letter.id} -> {target}")
    typer.echo(f"{len(chosen)} re-driven")


@app.command("prune-inbox")
def prune_inbox(
    service: str | None = typer.Option(None, help="one service (default: every one)"),
) -> None:
    """Delete de-duplication rows older than the broker's retention plus the margin
    (SANZHENG_BROKER_RETENTION_DAYS + SANZHENG_INBOX_RETENTION_MARGIN_DAYS). Services also
    do it every SANZHENG_INBOX_PRUNE_EVERY_SECONDS."""
    import asyncpg

    from sanzheng import tokens_cli
    from sanzheng_shared.retention import inbox_keep
    from sanzheng_shared.retention import prune_inbox as prune

    settings = get_settings()
    specs = [s for s in all_specs() if service in (None, s.name)]
    if not specs:
        typer.echo(f"error: no service {service!r}", err=True)
        raise typer.Exit(2)
    keep = inbox_keep(settings)

    async def run() -> list[tuple[str, int]]:
        conn = await asyncpg.connect(tokens_cli.database_url(settings))
        try:
            done = []
            for spec in specs:
                if await conn.fetchval("SELECT to_regclass($1)", f"{spec.schema}.inbox"):
                    await conn.execute(f'SET search_path TO "{spec.schema}"')
                    done.append((spec.name, await prune(conn, keep)))
            return done
        finally:
            await conn.close()

    for name, deleted in asyncio.run(run()):
        typer.echo(f"{name}: {deleted} inbox rows older than {keep.days} days deleted")


outbox_app = typer.Typer(
    help="Outbox rows the broker refused and the relay parked (rows with their key wait).",
    no_args_is_help=True,
)
app.add_typer(outbox_app, name="outbox")


def _in_schema(service: str, work: Any) -> Any:
    """Run `work(conn)` on a connection to SERVICE's schema."""
    import asyncpg

    from sanzheng import tokens_cli

    [spec] = [s for s in all_specs() if s.name == service] or [None]
    if spec is None:
        typer.echo(f"error: no service {service!r}", err=True)
        raise typer.Exit(2)

    async def run() -> Any:
        conn = await asyncpg.connect(tokens_cli.database_url(get_settings()))
        try:
            await conn.execute(f'SET search_path TO "{spec.schema}"')
            return await work(conn, spec.schema)
        finally:
            await conn.close()

    return asyncio.run(run())


@outbox_app.command("parked")
def outbox_parked(service: str = typer.Argument(..., help="the service")) -> None:
    """List the parked rows: why, since when, and how many rows wait behind each."""
    from rich.console import Console
    from rich.table import Table

    from sanzheng_shared.outbox import parked_rows

    rows = _in_schema(service, lambda conn, _schema: parked_rows(conn))
    table = Table("seq", "topic", "key", "attempts", "parked", "waiting", "reason")
    for r in rows:
        table.add_row(
            str(r["seq"]),
            r["topic"],
            (r["key"] or b"").decode("utf-8", "replace"),
            str(r["attempts"]),
            f"{r['parked_at']:%Y-%m-%d %H:%M}",
            str(r["waiting"]),
            r["last_error"] or "",
        )
    Console().print(table if rows else "no parked rows")


@outbox_app.command("unpark")
def outbox_unpark(
    service: str = typer.Argument(..., help="the service"),
    seqs: list[int] | None = typer.Option(None, "--seq", help="a parked row (repeatable)"),  # noqa: B008
    everything: bool = typer.Option(False, "--all", help="every parked row"),
) -> None:
    """After a fix (the topic created, its size limit raised), give parked rows their
    attempts again; the running relay publishes them, then the rows waiting behind them."""
    from sanzheng_shared.outbox import unpark

    if bool(seqs) == everything:
        typer.echo("error: give --seq (one or more) or --all", err=True)
        raise typer.Exit(2)
    count = _in_schema(service, lambda conn, schema: unpark(conn, schema, seqs or None))
    typer.echo(f"{count} row(s) un-parked")


pending_app = typer.Typer(
    help="Submissions held until a fact arrives (SPEC 4.3): stale ones listed and expired.",
    no_args_is_help=True,
)
app.add_typer(pending_app, name="pending")
SERVICES_WITH_PENDING = ("enrollment", "internship", "labor-education", "certificates")


def _older_than(text: str | None) -> Any:
    """`30d`, `12h`, `90m`; None: the policy's limit (`pending.expire_after_days`)."""
    from datetime import timedelta

    from sanzheng_shared import stale

    if text is None:
        return stale.limit()
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError):
        typer.echo(f"error: --older-than {text!r}: give e.g. 30d, 12h or 90m", err=True)
        raise typer.Exit(2) from None


OLDER_THAN = typer.Option(None, "--older-than", help="e.g. 30d (default: the policy's limit)")


@pending_app.command("list")
def pending_list(
    service: str | None = typer.Argument(None, help="one service (default: every one)"),
    older_than: str | None = OLDER_THAN,
) -> None:
    """Held submissions older than the limit: service, student, type, since, waiting for."""
    from rich.console import Console
    from rich.table import Table

    from sanzheng_shared import stale

    limit = _older_than(older_than)
    table = Table("service", "seq", "student", "type", "id", "held since", "waiting for")
    count = 0
    for name in [service] if service else SERVICES_WITH_PENDING:
        for r in _in_schema(name, lambda conn, _schema: stale.stale(conn, limit)):
            count += 1
            table.add_row(
                name,
                str(r["seq"]),
                r["student_id"],
                r["type"],
                r["id"],
                f"{r['received_at']:%Y-%m-%d %H:%M}",
                r["waiting_for"],
            )
    Console().print(table if count else f"no submission held longer than {limit}")


@pending_app.command("expire")
def pending_expire(
    service: str = typer.Argument(..., help="the service holding them"),
    older_than: str | None = OLDER_THAN,
) -> None:
    """Reject every submission held longer than the limit with PENDING_EXPIRED (and
    announce its release), under the students' locks, in one transaction."""
    from sanzheng_shared import stale
    from sanzheng_shared.kafka.topics import TopicNames
    from sanzheng_shared.policy import PolicyBook

    limit = _older_than(older_than)
    specs = {s.name: s for s in all_specs()}
    topics = TopicNames(get_settings().topic_prefix)
    policies = PolicyBook.load(get_settings().policy_dir)

    async def work(conn: Any, _schema: str) -> list[Any]:
        return await stale.expire(conn, specs[service], topics, limit, policies=policies)

    expired = _in_schema(service, work)
    for r in expired:
        typer.echo(
            f"expired {r['student_id']} {r['type']} {r['id']} (waiting for {r['waiting_for']})"
        )
    typer.echo(f"{len(expired)} held submission(s) rejected with PENDING_EXPIRED")


def all_specs() -> list:  # type: ignore[type-arg]
    from sanzheng_certificates.app import SPEC as CERTIFICATES
    from sanzheng_credits.app import SPEC as CREDITS
    from sanzheng_enrollment.app import SPEC as ENROLLMENT
    from sanzheng_gateway.app import SPEC as GATEWAY
    from sanzheng_internship.app import SPEC as INTERNSHIP
    from sanzheng_labor_education.app import SPEC as LABOR

    return [ENROLLMENT, INTERNSHIP, LABOR, CERTIFICATES, CREDITS, GATEWAY]


DOCS_DIR = Path("docs/asyncapi")


@app.command()
def asyncapi(
    out: Path = typer.Option(DOCS_DIR, help="folder for the documents"),  # noqa: B008
) -> None:
    """Write the AsyncAPI document of every service and the events' JSON Schema."""
    from importlib.metadata import version

    from sanzheng_shared.asyncapi import write_all

    for path in write_all(all_specs(), out, version("sanzheng")):
        typer.echo(f"wrote {path}")


@app.command()
def chaos(
    minutes: float = typer.Option(10.0, help="how long faults are injected"),
    replicas: int = typer.Option(2, help="processes of each domain service"),
    seed: int = typer.Option(9, help="the random seed (faults, students, order)"),
    students: int = typer.Option(30, help="new students per round"),
    faults: str | None = typer.Option(
        None,
        help="only these kinds, comma-separated: kill, failpoint, zombie, db_restart, db_cut,"
        " broker_restart, poison (default: all)",
    ),
) -> None:
    """The fault suite's long version: kills, zombies, database restarts and cuts, broker
    restarts and poison while events flow, then lost / duplicated / wrong against the
    oracle (exit 1 when any is not 0). Needs the source checkout."""
    from sanzheng.chaos_cli import run_chaos

    kinds = set(faults.split(",")) if faults else None
    raise typer.Exit(run_chaos(minutes, replicas, seed, students, kinds))


if __name__ == "__main__":
    app()
