"""Issue 16: `sanzheng up` watches its embedded broker. Before, a killed broker stayed dead
and nothing said so; now one line names it, it comes back on its own port (or says where it
moved and why), and the back-off starts afresh after a healthy period."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from sanzheng.embedded import EmbeddedBroker
from sanzheng.supervisor import Backoff, Infrastructure, System
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.testing import eventually, read_topic


def test_the_back_off_grows_to_thirty_seconds_and_resets_after_a_healthy_period() -> None:
    backoff = Backoff(healthy_seconds=60, started_at=0.0)
    delays = []
    for now in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        delays.append(backoff.next_delay(now))
        backoff.started(now)
    assert delays == [2, 4, 8, 16, 30, 30]
    assert backoff.next_delay(6.0 + 61) == 2, "five crashes last week do not cost 30 s today"
    assert backoff.total == 7


async def test_a_killed_broker_is_named_and_restarted_on_its_port(settings, tmp_path: Path) -> None:
    broker = EmbeddedBroker.start()
    port = broker.port
    settings = settings.model_copy(update={"data_dir": tmp_path, "kafka_bootstrap": None})
    lines: list[str] = []
    infra = Infrastructure(broker.bootstrap, settings.database_url or "", broker=broker)
    system = System(settings, infra, echo=lines.append)
    watcher = asyncio.create_task(system.watch_infrastructure(every=0.2))
    taken: socket.socket | None = None
    try:
        first_cluster = broker.cluster_id
        broker.process.kill()
        await eventually(lambda: _said(lines, "restarted on"), timeout=30)
        assert any(
            f"embedded broker (Tansu) exited with code -9; its topics are lost; restarting in"
            f" 2s on 127.0.0.1:{port}" in line
            for line in lines
        ), lines
        assert infra.broker is not None and infra.broker.port == port
        assert infra.broker.cluster_id != first_cluster
        inbound = TopicNames(settings.topic_prefix).inbound("enrollment")
        assert await read_topic(infra.bootstrap, inbound) == []  # topics are back, empty
        parts = json.loads((tmp_path / "parts.json").read_text())
        assert parts["kafka"]["address"] == f"127.0.0.1:{port}"
        assert parts["kafka"]["restarts"] == 1 and parts["kafka"]["last_restart"]

        # Another process takes the port while the broker is down: it moves, and says so.
        infra.broker.process.kill()
        infra.broker.process.wait()
        taken = socket.socket()
        taken.bind(("127.0.0.1", port))
        taken.listen()
        await eventually(lambda: _said(lines, "is taken"), timeout=30)
        [moved] = [line for line in lines if "is taken" in line]
        assert f"port {port} is taken by another process" in moved
        assert infra.bootstrap in moved and infra.broker.port != port
    finally:
        system._stopping = True
        watcher.cancel()
        if taken is not None:
            taken.close()
        infra.stop()


async def _said(lines: list[str], text: str) -> bool:
    return any(text in line for line in lines)


async def test_a_killed_embedded_database_is_named_and_restarted_with_its_data(
    settings, tmp_path: Path
) -> None:
    import os
    import signal

    import asyncpg

    from sanzheng.embedded import EmbeddedDatabase

    database = await asyncio.to_thread(EmbeddedDatabase.start, tmp_path / "data")
    settings = settings.model_copy(update={"data_dir": tmp_path, "database_url": None})
    lines: list[str] = []
    infra = Infrastructure(settings.kafka_bootstrap or "", database.url, database=database)
    system = System(settings, infra, echo=lines.append)
    conn = await asyncpg.connect(database.url)
    await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
    await conn.close()
    watcher = asyncio.create_task(system.watch_infrastructure(every=0.2))
    try:
        pid = int((Path(database.server.pgdata) / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: _said(lines, "restarted"), timeout=60)
        assert any("postgres" in line and "exited" in line for line in lines), lines
        conn = await asyncpg.connect(database.url)  # the same address as before
        try:
            assert await conn.fetchval("SELECT n FROM kept") == 42, "the data survived"
        finally:
            await conn.close()
    finally:
        system._stopping = True
        watcher.cancel()
        infra.stop()


async def test_the_embedded_database_keeps_a_checkpoint_from_copying_pages_every_few_seconds(
    tmp_path: Path,
) -> None:
    import asyncpg

    from sanzheng.embedded import EmbeddedDatabase, configure

    database = await asyncio.to_thread(EmbeddedDatabase.start, tmp_path / "data")
    try:
        conn = await asyncpg.connect(database.url)
        try:
            assert await conn.fetchval("SHOW max_wal_size") == "8GB"
            # A value its user chose on the kept data directory stays at the next start.
            await conn.execute("ALTER SYSTEM SET max_wal_size = '2GB'")
            await asyncio.to_thread(configure, database.server)  # it reloads the settings
            await eventually(lambda: conn.fetchval("SHOW max_wal_size"), "2GB".__eq__, timeout=10)
            await asyncio.sleep(0.5)  # had it set 8GB again, this reload would show it now
            assert await conn.fetchval("SHOW max_wal_size") == "2GB"
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(database.stop)
