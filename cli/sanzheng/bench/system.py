"""Service processes as `sanzheng up` runs them, on one stage's database and topics, and
what the bench reads from them: readiness, peak RSS, CPU time, the statement and batch
counters."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sanzheng.supervisor import ServiceProcess, System

STATEMENTS_METRIC = "sanzheng_db_statements_total"
BATCHES_METRIC = "sanzheng_batch_seconds_count"


def _cpu_times() -> list[int] | None:
    """The machine's line of /proc/stat, in clock ticks since boot: user nice system idle
    iowait irq softirq steal guest guest_nice."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None


def machine_cpu_seconds() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat):
    the difference over a stage is what every process used, PostgreSQL and the broker
    included, which the services' own CPU figures leave out."""
    fields = _cpu_times()
    if fields is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    # Steal (another VM's time) is neither busy nor idle, and guest time is already in user.
    total = sum(fields[:7])
    return (total - idle) / tick, total / tick


def machine_iowait_seconds() -> float | None:
    """CPU seconds the machine spent idle with a disk request outstanding, since boot (the
    `iowait` of /proc/stat): a stage whose rate falls more than its CPU is waiting on disk."""
    fields = _cpu_times()
    if fields is None or len(fields) < 5:
        return None
    return fields[4] / os.sysconf("SC_CLK_TCK")


@dataclass
class BenchSystem(System):
    extra_env: dict[str, str] = field(default_factory=dict)
    """settings of this stage's service processes only"""

    def env_for(self, svc: ServiceProcess) -> dict[str, str]:
        env = super().env_for(svc)
        env["SANZHENG_TOPIC_PREFIX"] = self.settings.topic_prefix
        env["SANZHENG_TOPIC_PARTITIONS"] = str(self.settings.topic_partitions)
        env.setdefault("SANZHENG_LOG_LEVEL", "WARNING")
        env.update(self.extra_env)
        return env

    async def wait_ready_each(self, timeout: float = 180.0) -> float:
        """Wait (polling fast) until every service answers /readyz; returns time.time() then."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            for svc in self.services:
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(svc.url + "/readyz")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{svc.name} not ready after {timeout:.0f}s")
                    await asyncio.sleep(0.05)
        return time.time()

    def peak_rss_mb(self) -> dict[str, float]:
        """VmHWM of each service process (the peak resident set since it started)."""
        out: dict[str, float] = {}
        for svc in self.services:
            if svc.process is None or svc.process.returncode is not None:
                continue
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{svc.process.pid}/status").read_text()
                if m := re.search(r"^VmHWM:\s+(\d+) kB", status, re.M):
                    out[svc.name] = round(int(m.group(1)) / 1024, 1)
        return out

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU time each service process has used so far (/proc/<pid>/stat):
        unlike a rate, it does not move with what else the machine is doing."""
        tick = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for svc in self.services:
            if svc.process is None or svc.process.returncode is not None:
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{svc.process.pid}/stat").read_text()
                # After the command name in parentheses: utime and stime are fields 14, 15.
                fields = stat.rsplit(")", 1)[1].split()
                out[svc.name] = (int(fields[11]) + int(fields[12])) / tick
        return out

    async def statement_metric(self) -> dict[str, float] | None:
        """`sanzheng_db_statements_total` per service from /metrics, when the services have it."""
        return await self.metric_sums(STATEMENTS_METRIC)

    async def batch_counts(self) -> dict[str, float] | None:
        """How many batches each service has applied (the count of its batch histogram)."""
        return await self.metric_sums(BATCHES_METRIC)

    async def metric_sums(self, metric: str) -> dict[str, float] | None:
        """One metric from each service's /metrics, summed over its labels."""
        found: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=5.0) as client:
            for svc in self.services:
                try:
                    text = (await client.get(svc.url + "/metrics")).text
                except httpx.HTTPError:
                    continue
                values = [
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith(metric + "{") or line.startswith(metric + " ")
                ]
                if values:
                    found[svc.name] = sum(values)
        return found or None

    @property
    def restarts(self) -> int:
        return sum(svc.backoff.total for svc in self.services)
