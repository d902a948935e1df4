"""`sanzheng chaos`: the fault suite's long version (issue 9), from a source checkout.

It runs the harness of `tests/faults/` (the real system on infrastructure it owns, checked
against the independent oracle of `tests/`), so it needs the repository, not only the
installed package.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer


def run_chaos(
    minutes: float, replicas: int, seed: int, students: int, faults: set[str] | None = None
) -> int:
    root = Path(__file__).resolve().parents[2]
    if not (root / "tests" / "faults" / "harness.py").is_file():
        typer.echo("sanzheng chaos needs the source checkout (tests/faults/harness.py)", err=True)
        return 2
    sys.path.insert(0, str(root))
    from tests.faults.harness import run

    figures = asyncio.run(
        run(
            minutes=minutes,
            replicas=replicas,
            seed=seed,
            students_per_round=students,
            faults=faults,
            echo=lambda line: typer.echo(line),
        )
    )
    shown: dict[str, int] = {}
    for line in figures.details:  # a few of each kind
        kind = " ".join(line.split()[:2])
        shown[kind] = shown.get(kind, 0) + 1
        if shown[kind] <= 8:
            typer.echo(line)
    for kind, count in shown.items():
        typer.echo(f"{count:6d}  {kind} …")
    typer.echo(figures.summary())
    return 0 if figures.lost == figures.duplicated == figures.wrong == 0 else 1
