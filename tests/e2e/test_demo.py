"""`sanzheng demo --exit`, the README's first command, on its embedded broker and database:
it says how fast the province was decided, and run again on the same data directory (whose
PostgreSQL kept the students; the embedded broker starts empty) it says that nothing new was
decided, instead of a throughput computed from an earlier run's last decision."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sanzheng.embedded import free_port

pytestmark = pytest.mark.slow


def _demo(data_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANZHENG_")}
    env.update(SANZHENG_DATA_DIR=str(data_dir), SANZHENG_HTTP_PORT=str(free_port(18000)))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "sanzheng"), "demo", "--exit", "--students", "12"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_demo_reports_its_decisions_and_a_second_run_says_it_decided_nothing_new(
    tmp_path: Path,
) -> None:
    first = _demo(tmp_path / "data")
    assert "for 12 students" in first
    assert "decided in about" in first and "events/s end to end" in first
    assert "no decision changed" not in first

    second = _demo(tmp_path / "data")
    assert "for 12 students" in second
    assert "decided in about" not in second
    assert "no decision changed" in second and "earlier demo" in second
