"""Issue 16: a service process while its broker is away for 30 s. Before, /readyz stayed
200 and the log took thousands of lines; now readiness turns false after the threshold,
the log keeps a handful of lines, and the service takes new events once the broker is back
(on the same port, empty) without a restart of its own."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sanzheng.embedded import EmbeddedBroker, free_port
from sanzheng_shared.kafka.topics import TopicNames, ensure_topics
from sanzheng_shared.testing import enrolled, eventually, fetch, publish

OUTAGE_SECONDS = 36  # the summary comes 30 s after the first error, a few s after the kill
# The first connection error, one summary at 30 s, the recovery; plus the consumer's own
# one-off lines around an outage (coordinator dead, re-joining the group).
MAX_LINES_DURING_OUTAGE = 8


async def _status(url: str) -> int:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(url)).status_code
    except httpx.HTTPError:
        return 0


def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sanzheng_enrollment"], env=env, stdout=out, stderr=out
        )


async def test_a_thirty_second_broker_outage(settings, tmp_path: Path) -> None:
    broker = EmbeddedBroker.start()
    port = free_port()
    log_path = tmp_path / "enrollment.log"
    env = dict(
        os.environ,
        SANZHENG_KAFKA_BOOTSTRAP=broker.bootstrap,
        SANZHENG_DATABASE_URL=settings.database_url,
        SANZHENG_TOPIC_PREFIX=settings.topic_prefix,
        SANZHENG_TOPIC_PARTITIONS="3",
        SANZHENG_SERVICE_HTTP_PORT=str(port),
        SANZHENG_SCHOOL_TOPICS="false",
    )
    topics = TopicNames(settings.topic_prefix)
    service = _spawn(env, log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: _status(base + "/readyz"), lambda s: s == 200, timeout=60)
        await publish(broker.bootstrap, topics.inbound("enrollment"), [enrolled("BEFORE-1")])
        students = "SELECT count(*) FROM enrollment.students"
        count = lambda: fetch(settings.database_url, students)  # noqa: E731
        await eventually(count, lambda r: r[0][0] == 1)

        lines_before = len(log_path.read_bytes().splitlines())
        broker.process.kill()
        broker.process.wait()
        killed = time.monotonic()
        # Readiness: false once the broker has been away longer than 10 s; liveness stays.
        await asyncio.sleep(5)
        assert await _status(base + "/readyz") == 200, "a short blip is not unready"
        await eventually(lambda: _status(base + "/readyz"), lambda s: s == 503, timeout=15)
        assert 10 <= time.monotonic() - killed < 20
        assert await _status(base + "/healthz") == 200
        async with httpx.AsyncClient() as client:
            body = (await client.get(base + "/readyz")).json()
            assert body["checks"]["broker"] is False
            metrics = (await client.get(base + "/metrics")).text
        age = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("sanzheng_consumer_seconds_since_fetch{")
        ]
        assert age and max(age) >= 9, "the last successful fetch was before the outage"
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - killed)))
        outage_lines = log_path.read_bytes().splitlines()[lines_before:]

        old_port = broker.port
        broker = EmbeddedBroker.start(old_port)  # empty; connections may linger in TIME_WAIT
        assert broker.port == old_port, "restarted on its own port"
        await ensure_topics(broker.bootstrap, topics.all(), 3)
        await eventually(lambda: _status(base + "/readyz"), lambda s: s == 200, timeout=60)
        await publish(broker.bootstrap, topics.inbound("enrollment"), [enrolled("AFTER-1")])
        await eventually(count, lambda r: r[0][0] == 2, timeout=60)
        assert service.poll() is None, "the service reconnected without a restart"

        events = [json.loads(line).get("event", "") for line in outage_lines]
        assert len(outage_lines) <= MAX_LINES_DURING_OUTAGE, events
        assert any(e.startswith("broker unreachable for 30 s") for e in events), events
        recovered = [
            json.loads(line).get("event", "")
            for line in log_path.read_bytes().splitlines()
            if b"broker reachable again" in line
        ]
        # One line ends the outage (a re-joining consumer may blip once more, briefly).
        long = [r for r in recovered if int(r.split(" after ")[1].split(" s")[0]) >= 30]
        assert len(long) == 1, recovered
    finally:
        service.terminate()
        service.wait(60)
        broker.stop()
