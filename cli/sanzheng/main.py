"""`sanzheng`: the command line of SPEC §5.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from sanzheng_shared.logging import configure_logging
from sanzheng_shared.settings import get_settings

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


@app.command()
def up(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="do not stream the services' logs"),
) -> None:
    """Run the whole system on this machine until Ctrl-C.

    Prints one line per address (kafka, postgres, each service), then `ready`.
    """
    from sanzheng.supervisor import run_system

    settings = get_settings()
    configure_logging("sanzheng", settings.log_level, "console")
    raise typer.Exit(asyncio.run(run_system(settings, stream_logs=not quiet)))


@app.command()
def demo(
    students: int = typer.Option(300, min=1, help="how many synthetic students to load"),
    seed: int = typer.Option(2026, help="seed of the synthetic data (same seed, same data)"),
    exit_after: bool = typer.Option(
        False, "--exit", help="stop after the summary instead of running until Ctrl-C"
    ),
) -> None:
    """Run the system and load a synthetic province (several schools, classes and cohorts,
    complete, incomplete and rule-breaking lifecycles), then print a summary."""
    from rich.console import Console

    from sanzheng import demo as demo_mod
    from sanzheng.supervisor import System, run_system

    settings = get_settings()
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
        elapsed = max(
            0.001, await demo_mod.last_decision_epoch(system.infra.database_url) - started
        )
        console.print(
            f"decided in about {elapsed:.1f} s: {sent / elapsed:.0f} events/s end to end",
            soft_wrap=True,
        )
        console.print(demo_mod.summary_table(rows))
        console.print(
            demo_mod.missing_table(await demo_mod.missing_counts(system.infra.database_url))
        )
        token = await demo_mod.counselor_token(system.infra.database_url, "SCH001")
        gateway = next(svc for svc in system.services if svc.name == "gateway")
        console.print(f"dashboard  {gateway.url}/", soft_wrap=True)
        console.print(f"counselor token for SCH001 (shown once): {token}", soft_wrap=True)
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
        help="synthetic students (about 4.7 inbound events each), streamed, never all in memory",
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

    Also SQL statements per event (sanzheng_db_statements_total, else
    pg_stat_statements, else pg_stat_database transactions) and the peak
    RSS (VmHWM) of each service process. Prints a table with the ratios
    (service ÷ naive, end to end ÷ raw limit); writes --out and --chart.

    With SANZHENG_KAFKA_BOOTSTRAP and SANZHENG_DATABASE_URL unset, starts
    its own embedded broker and PostgreSQL in a temporary directory.
    """
    import json

    from rich.console import Console

    from sanzheng.bench.run import BenchConfig, parse_stages, run_bench, write_outputs

    if report is not None:
        earlier = json.loads(report.read_text())
        write_outputs(earlier, None, None if no_chart else chart, Console(), markdown)
        return
    try:
        chosen = parse_stages(stages)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stages") from None
    settings = get_settings()
    configure_logging("sanzheng", "WARNING", "console")
    console = Console()
    config = BenchConfig(
        students, rate, latency_seconds, seed, naive_events, count_statements, chosen
    )
    console.print(f"stages: {', '.join(chosen)}")
    results = asyncio.run(run_bench(config, settings, console))
    write_outputs(results, out, None if no_chart else chart, console, markdown)


token_app = typer.Typer(
    help="API tokens: random, shown once, stored hashed, revocable.", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="sis | counselor | bureau | admin"),
    school: str | None = typer.Option(None, help="the school a sis/counselor token belongs to"),
    label: str | None = typer.Option(None, help="who or what the token is for"),
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from sanzheng import tokens_cli
    from sanzheng_gateway import tokens

    async def create() -> str:
        conn = await tokens_cli.with_gateway_schema(tokens_cli.database_url(get_settings()))
        try:
            return await tokens.create(conn, role, school, label)
        finally:
            await conn.close()

    try:
        token = asyncio.run(create())
    except tokens.TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)
    typer.echo(f"(shown once: keep it; revoke with `sanzheng token revoke {token[:14]}`)", err=True)


@token_app.command("revoke")
def token_revoke(
    token_id: str = typer.Argument(..., help="the token or its first 14 characters"),
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

    if not asyncio.run(revoke()):
        typer.echo(f"error: no active token {token_id[:14]}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {token_id[:14]}")


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

    table = Table("token id", "role", "school", "label", "created", "revoked")
    for r in asyncio.run(rows()):
        table.add_row(
            r["token_id"],
            r["role"],
            r["school_id"] or "*",
            r["label"] or "",
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "",
        )
    Console().print(table)


def _api(path: str, token: str | None, url: str | None) -> dict:  # type: ignore[type-arg]
    import os

    import httpx

    settings = get_settings()
    base = url or f"http://{settings.http_host}:{settings.http_port}"
    token = token or os.environ.get("SANZHENG_TOKEN")
    if not token:
        typer.echo(
            "error: give --token or set SANZHENG_TOKEN (see `sanzheng token create`)", err=True
        )
        raise typer.Exit(2)
    try:
        response = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach the gateway at {base}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code != 200:
        typer.echo(f"error: {response.status_code}: {response.json().get('detail')}", err=True)
        raise typer.Exit(1)
    return response.json()  # type: ignore[no-any-return]


TOKEN_OPTION = typer.Option(None, "--token", help="API token (default: $SANZHENG_TOKEN)")
URL_OPTION = typer.Option(None, "--url", help="gateway URL (default: from SANZHENG_HTTP_PORT)")


@app.command()
def status(student_id: str, token: str | None = TOKEN_OPTION, url: str | None = URL_OPTION) -> None:
    """A student's graduation decision and what is missing (GET /v1/students/{id})."""
    from rich.console import Console
    from rich.table import Table

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
    table = Table("requirement", "met", "detail")
    for r in decision["requirements"]:
        table.add_row(r["code"], "yes" if r["met"] else "[red]no[/red]", r["detail"])
    console.print(table)
    console.print(f"policy {decision['policy_version']}")


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
    answer = _api(f"/v1/schools/{school}/graduation?{urlencode(query)}", token, url)
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


def all_specs() -> list:  # type: ignore[type-arg]
    from sanzheng_certificates.app import SPEC as CERTIFICATES
    from sanzheng_enrollment.app import SPEC as ENROLLMENT
    from sanzheng_gateway.app import SPEC as GATEWAY
    from sanzheng_internship.app import SPEC as INTERNSHIP
    from sanzheng_labor_education.app import SPEC as LABOR

    return [ENROLLMENT, INTERNSHIP, LABOR, CERTIFICATES, GATEWAY]


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


if __name__ == "__main__":
    app()
