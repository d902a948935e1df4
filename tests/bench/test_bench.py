"""`sanzheng bench` at a small size, through its own embedded broker and PostgreSQL: it
completes and writes every stage's figures. No timing is asserted (SPEC §6: a benchmark,
not a timed test)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SERVICES = ("enrollment", "internship", "labor-education", "certificates")


@pytest.fixture
def short_tmpdir() -> Iterator[Path]:
    """The bench's own TMPDIR, short: the embedded PostgreSQL's socket lives under it (at
    most 107 bytes), and a test can see what the bench leaves there."""
    path = Path(tempfile.mkdtemp(prefix="szb"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _positive(figures: dict[str, Any], *keys: str) -> None:
    for key in keys:
        assert isinstance(figures.get(key), int | float), (key, figures)
        assert figures[key] > 0, (key, figures)


def _cost(figures: dict[str, Any]) -> None:
    if figures["statements_source"] == "pg_stat_database":
        _positive(figures, "transactions_per_event")
    else:
        _positive(figures, "statements_per_event")


@pytest.mark.timeout(1200)
def test_a_small_bench_completes_and_writes_every_figure(tmp_path: Path) -> None:
    out, chart = tmp_path / "bench.json", tmp_path / "bench.png"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANZHENG_")}
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "sanzheng"),
            "bench",
            "--students",
            "300",
            "--rate",
            "200",
            "--latency-seconds",
            "5",
            "--out",
            str(out),
            "--chart",
            str(chart),
            "--markdown",
            "--state-students",
            "1500",
            # The embedded PostgreSQL configured as a production one would be (here only a
            # size the default 128MB is not, to see it applied).
            "--pg-setting",
            "shared_buffers=48MB",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| stage |" in done.stdout  # the Markdown table for docs/scaling.md
    assert chart.stat().st_size > 0

    results = json.loads(out.read_text())
    stages = results["stages"]
    assert results["postgres_settings"]["shared_buffers"] == "48MB"  # read back from the server
    assert "shared_buffers=48MB" in done.stdout
    # By default the bench does not load pg_stat_statements (it costs throughput).
    assert results["statement_source"] in ("pg_stat_database", "sanzheng_db_statements_total")
    _positive(stages["raw"], "events", "seconds", "events_per_s", "copy_per_s")
    _positive(stages["naive"], "events", "seconds", "events_per_s")
    _cost(stages["naive"])
    assert set(stages["services"]) == set(SERVICES)
    for name in SERVICES:
        figures = stages["services"][name]
        _positive(figures, "messages", "seconds", "events_per_s", "peak_rss_mb")
        _positive(figures, "cpu_ms_per_event", "machine_cpu_ms_per_event")
        # What the database wrote to its log for it (every service writes its event log).
        _positive(figures, "wal_kb_per_event")
        assert figures["io_wait_seconds"] >= 0
        _cost(figures)
        _positive(results["ratios"], f"{name}_vs_naive")
    # Each service again over the same events, its database grown to 1,500 other students.
    scale = stages["services_at_scale"]
    assert scale["state_students"] == 1500
    for name in SERVICES:
        again, first = scale[name], stages["services"][name]
        assert again["messages"] == first["messages"]
        _positive(again, "seconds", "events_per_s", "peak_rss_mb", "cost_vs_small_state")
        _positive(again, "machine_cost_vs_small_state")
        assert again["database_rows"]["after"] >= 4 * again["database_rows"]["before"] > 0
    assert "1,500 students in its database" in done.stdout
    assert "| WAL kB per event |" in done.stdout  # the Markdown table of the database's writes
    e2e = stages["end_to_end"]
    _positive(e2e, "students", "inbound_events", "seconds", "events_per_s", "decisions")
    _cost(e2e)
    from sanzheng.supervisor import SERVICES as EVERY_PROCESS

    assert set(e2e["peak_rss_mb"]) == set(EVERY_PROCESS)
    assert all(v > 0 for v in e2e["peak_rss_mb"].values())
    # Where the end-to-end CPU goes: every process, what it consumed, in how many batches.
    assert set(e2e["processes"]) == set(EVERY_PROCESS)
    for figures in e2e["processes"].values():
        _positive(figures, "messages", "batches", "records_per_batch", "cpu_ms_per_inbound_event")
        assert figures["records_per_batch"] <= 500  # consumer_max_records
    _positive(e2e, "cpu_ms_per_event", "machine_cpu_ms_per_event")
    # The whole machine's CPU (PostgreSQL and the broker too) is more than the services'.
    assert e2e["machine_cpu_ms_per_event"] > e2e["cpu_ms_per_event"]
    assert 0 < e2e["machine_busy_share"] <= 1
    assert "| end to end, each process |" in done.stdout
    _positive(results["ratios"], "end_to_end_vs_raw")
    _positive(stages["latency"], "events", "decisions", "p50_ms", "p95_ms", "p99_ms")
    assert stages["latency"]["p50_ms"] <= stages["latency"]["p95_ms"] <= stages["latency"]["p99_ms"]
    # How busy the machine was while the load was offered: what bounds the latency.
    assert 0 < stages["latency"]["machine_busy_share_while_offered"] <= 1
    _positive(stages["latency"], "services_cpu_ms_per_event")
    assert "| machine busy while offered |" in done.stdout


@pytest.mark.timeout(600)
def test_with_enrollments_first_every_student_is_decided_and_only_the_rest_is_timed(
    tmp_path: Path, short_tmpdir: Path
) -> None:
    out = tmp_path / "bench.json"
    done = _bench(
        *("--stages", "e2e,latency", "--order", "enrollment-first", "--students", "150"),
        *("--rate", "150", "--latency-seconds", "4", "--out", str(out)),
        "--no-chart",
        "--markdown",
        cwd=tmp_path,
        tmpdir=short_tmpdir,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["config"]["order"] == "enrollment-first"
    e2e, lat = results["stages"]["end_to_end"], results["stages"]["latency"]
    assert e2e["order"] == "enrollment-first"
    assert e2e["students"] == 150
    assert e2e["decisions"] == 150  # every student, enrollments and the rest alike
    assert "end to end (150 students, enrollments first)" in done.stdout
    # The latency stage times only what follows the enrollments: no enrollment is counted
    # in its events, and the enrollments' own decisions are not in its figures.
    _positive(lat, "events", "students", "decisions", "p50_ms", "p99_ms")
    assert lat["decisions"] == lat["decisions_matched_by_correlation"]
    assert "every enrollment first" in done.stdout


@pytest.mark.timeout(400)
def test_on_the_users_postgresql_it_drops_the_databases_it_made(
    tmp_path: Path, short_tmpdir: Path, admin_database_url: str
) -> None:
    # The user's PostgreSQL, the bench's own embedded broker.
    done = _bench(
        *("--stages", "raw", "--students", "30", "--no-chart"),
        *("--out", str(tmp_path / "bench.json")),
        cwd=tmp_path,
        tmpdir=short_tmpdir,
        extra_env={"SANZHENG_DATABASE_URL": admin_database_url},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = json.loads((tmp_path / "bench.json").read_text())
    assert run["stages"]["raw"]["events"] > 0
    left = asyncio.run(_bench_databases(admin_database_url))
    assert not left, left


async def _bench_databases(url: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'")
    finally:
        await conn.close()
    return [r["datname"] for r in rows]


def test_an_unknown_order_is_refused(tmp_path: Path) -> None:
    done = _bench("--order", "random", "--no-chart", cwd=tmp_path, tmpdir=tmp_path)
    assert done.returncode == 2
    assert "--order" in done.stderr and "enrollment-first" in done.stderr
    assert not (tmp_path / "bench-results.json").exists()


def _bench(
    *args: str, cwd: Path, tmpdir: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANZHENG_")}
    # Wide, so that rich's error panel does not break the reason across its borders; its
    # own temporary directory, to see what it leaves there.
    env |= {"COLUMNS": "200", "TMPDIR": str(tmpdir)} | (extra_env or {})
    return subprocess.run(
        [str(Path(sys.executable).parent / "sanzheng"), "bench", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("shared_buffers", "is not NAME=VALUE"),  # refused before anything starts
        ("PORT=5999", "where the bench reaches its server"),  # it would lose its server
        ("no_such_setting=1", "PostgreSQL refused no_such_setting=1"),  # refused by the server
        # Taken by ALTER SYSTEM, but the server cannot start with it: its own reason is shown.
        ("shared_preload_libraries=no_such_library", 'could not access file "no_such_library"'),
    ],
)
def test_a_postgres_setting_it_cannot_apply_is_refused_before_any_stage(
    tmp_path: Path, short_tmpdir: Path, setting: str, said: str
) -> None:
    tmpdir = short_tmpdir
    done = _bench(
        "--stages", "raw", "--pg-setting", setting, "--no-chart", cwd=tmp_path, tmpdir=tmpdir
    )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert said in done.stdout + done.stderr
    assert "--pg-setting" in done.stderr
    assert not (tmp_path / "bench-results.json").exists()
    # The embedded broker and database it may have started are stopped, their files gone.
    assert not list(tmpdir.iterdir())
    running = [p for p in Path("/proc").glob("[0-9]*/cmdline") if str(tmpdir) in _read(p)]
    assert not running, running


def _read(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # the process ended meanwhile
        return ""
