"""`sanzheng`: the command line of SPEC §5.1."""

from __future__ import annotations

import asyncio

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
        rows = await demo_mod.wait_processed(system.infra.database_url, len(generated))
        # Up to the last decision, not the quiet period wait_processed needs to see it.
        elapsed = max(
            0.001, await demo_mod.last_decision_epoch(system.infra.database_url) - started
        )
        console.print(f"decided in about {elapsed:.1f} s: {sent / elapsed:.0f} events/s end to end")
        console.print(demo_mod.summary_table(rows))
        console.print(
            demo_mod.missing_table(await demo_mod.missing_counts(system.infra.database_url))
        )
        if exit_after:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGTERM)
        else:
            console.print("running; Ctrl-C stops everything")

    raise typer.Exit(asyncio.run(run_system(settings, after_ready=after_ready, stream_logs=False)))


if __name__ == "__main__":
    app()
