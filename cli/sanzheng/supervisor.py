"""Runs the whole system on one machine: infrastructure, then one OS process per service.

Every part is watched. A service, the embedded broker or the embedded PostgreSQL that exits
is named on one line and restarted after 2, 4, 8 … up to 30 s; a part that had run for
HEALTHY_SECONDS before it exited starts again from the shortest wait. The broker comes back
on its own port (when another process took it, the line says which port it moved to, and
the services are restarted with the new address); the services reconnect by themselves. A
service whose port was taken while it was away moves to another, and the line says so.
`<data dir>/parts.json` records each part's address, restarts and last restart.

With `replicas` > 1, each domain service runs that many processes in the same consumer
groups (the gateway stays one), named `certificates#2` in the address lines and logs; a
replica that exits is restarted on its own. Each service's log lines are streamed with
its name in front. SIGINT/SIGTERM stop the services first (each finishes and commits its
batch), then the broker and the database.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx

from sanzheng.embedded import (
    EmbeddedBroker,
    EmbeddedDatabase,
    embedded_broker_env,
    free_port,
    redact,
)
from sanzheng_shared.db import roles
from sanzheng_shared.kafka.topics import TopicNames, ensure_topics
from sanzheng_shared.settings import Settings

SERVICES = (
    "enrollment",
    "internship",
    "labor-education",
    "certificates",
    "credits",
    "gateway",
)
REPLICA_PORT_STRIDE = 10  # certificates: 8004, certificates#2: 8014, certificates#3: 8024
HEALTHY_SECONDS = 60.0  # a part that ran this long before it exited waits the shortest again
MAX_DELAY = 30


@dataclass
class Backoff:
    """2, 4, 8 … up to 30 s between restarts; back to 2 s after a healthy period."""

    healthy_seconds: float = HEALTHY_SECONDS
    restarts: int = 0
    total: int = 0
    started_at: float = field(default_factory=time.monotonic)
    last_restart: str | None = None

    def next_delay(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        if now - self.started_at >= self.healthy_seconds:
            self.restarts = 0
        self.restarts += 1
        self.total += 1
        return int(min(MAX_DELAY, 2**self.restarts))

    def started(self, now: float | None = None) -> None:
        self.started_at = time.monotonic() if now is None else now
        self.last_restart = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def module_of(service: str) -> str:
    return "sanzheng_" + service.replace("-", "_")


@dataclass
class Infrastructure:
    bootstrap: str
    database_url: str
    broker: EmbeddedBroker | None = None
    database: EmbeddedDatabase | None = None
    broker_backoff: Backoff = field(default_factory=Backoff)
    database_backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def start(cls, settings: Settings) -> Infrastructure:
        broker = database = None
        bootstrap = settings.kafka_bootstrap
        url = settings.database_url
        if not bootstrap:
            log = settings.data_dir / "tansu.log"
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            broker = EmbeddedBroker.start(9092, log_file=log)
            bootstrap = broker.bootstrap
        if not url:
            try:
                database = EmbeddedDatabase.start(settings.data_dir)
            except BaseException:
                if broker is not None:  # started for this, and runs in a session of its own
                    broker.stop()
                raise
            url = database.url
        return cls(bootstrap, url, broker, database)

    def stop(self) -> None:
        if self.broker:
            self.broker.stop()
        if self.database:
            self.database.stop()


@dataclass
class ServiceProcess:
    name: str
    port: int
    replica: int = 1
    replicas: int = 1
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None
    backoff: Backoff = field(default_factory=Backoff)

    @property
    def label(self) -> str:
        """`certificates`, or `certificates#2` when the service runs as several replicas."""
        return self.name if self.replicas == 1 else f"{self.name}#{self.replica}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class System:
    settings: Settings
    infra: Infrastructure
    services: list[ServiceProcess] = field(default_factory=list)
    echo: Callable[[str], None] = print
    stream_logs: bool = True
    _stopping: bool = False
    database_urls: dict[str, str] = field(default_factory=dict)
    """service -> the URL with its own database role (empty: the configured user)"""

    @property
    def width(self) -> int:
        return max((len(svc.label) for svc in self.services), default=0)

    def env_for(self, svc: ServiceProcess) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SANZHENG_KAFKA_BOOTSTRAP=self.infra.bootstrap,
            SANZHENG_DATABASE_URL=self.database_urls.get(svc.name, self.infra.database_url),
            SANZHENG_SERVICE_HTTP_PORT=str(svc.port),
            PYTHONUNBUFFERED="1",
            SANZHENG_SUPERVISOR_PID=str(os.getpid()),
        )
        if self.infra.broker is not None:
            env.update(embedded_broker_env())
        if svc.name == "gateway":
            env["SANZHENG_HTTP_PORT"] = str(svc.port)
        return env

    async def _spawn(self, svc: ServiceProcess) -> None:
        svc.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module_of(svc.name),
            env=self.env_for(svc),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop them in order
        )
        svc.backoff.started_at = time.monotonic()
        svc.pump = asyncio.create_task(self._pump(svc))

    async def _pump(self, svc: ServiceProcess) -> None:
        assert svc.process is not None and svc.process.stdout is not None
        prefix = f"{svc.label:<{self.width}} | "
        async for line in svc.process.stdout:
            if self.stream_logs:
                self.echo(prefix + line.decode(errors="replace").rstrip())
        code = await svc.process.wait()
        if not self._stopping:
            delay = svc.backoff.next_delay()
            self.echo(
                f"{svc.label:<{self.width}} | exited with code {code}; restarting in {delay}s"
            )
            await asyncio.sleep(delay)
            if not self._stopping:
                self._keep_or_move_port(svc)
                await self._spawn(svc)
                svc.backoff.started()

    def _keep_or_move_port(self, svc: ServiceProcess) -> None:
        """A port in the ephemeral range can be taken, while its service is away, as the
        local end of any process's outgoing connection: restarted on it, the service would
        fail to bind again and again. It moves instead, and says where."""
        port = free_port(svc.port)
        if port != svc.port:
            self._say(
                svc.label,
                f"port {svc.port} is taken by another process; restarting on {port}"
                f" (http://127.0.0.1:{port})",
            )
            svc.port = port

    def _say(self, part: str, text: str) -> None:
        self.echo(f"{part:<{self.width}} | {text}")

    async def watch_infrastructure(self, every: float = 0.5) -> None:
        """Restart the embedded broker or database when it exits (until stop)."""
        infra = self.infra
        while not self._stopping:
            await asyncio.sleep(every)
            if self._stopping:
                return
            if infra.broker is not None and infra.broker.process.poll() is not None:
                await self._restart_broker(infra.broker.process.returncode)
            if infra.database is not None and not await asyncio.to_thread(infra.database.alive):
                await self._restart_database()

    async def _restart_broker(self, code: int | None) -> None:
        infra = self.infra
        assert infra.broker is not None
        port = infra.broker.port
        delay = infra.broker_backoff.next_delay()
        self._say(
            "kafka",
            f"embedded broker (Tansu) exited with code {code}; its topics are lost;"
            f" restarting in {delay}s on 127.0.0.1:{port}",
        )
        await asyncio.sleep(delay)
        if self._stopping:
            return
        log = self.settings.data_dir / "tansu.log"
        broker = await asyncio.to_thread(EmbeddedBroker.start, port, log)
        infra.broker, infra.bootstrap = broker, broker.bootstrap
        infra.broker_backoff.started()
        await ensure_topics(
            broker.bootstrap,
            TopicNames(self.settings.topic_prefix).all(),
            self.settings.topic_partitions,
            self.settings.topic_replication,
        )
        if broker.port == port:
            self._say(
                "kafka",
                f"embedded broker restarted on {broker.bootstrap} (empty; services re-read"
                " their topics and the gateway re-publishes what it accepted over HTTP)",
            )
        else:
            self._say(
                "kafka",
                f"port {port} is taken by another process; the embedded broker moved to"
                f" {broker.bootstrap}; restarting the services with the new address",
            )
            for svc in self.services:
                if svc.process is not None and svc.process.returncode is None:
                    svc.process.send_signal(signal.SIGTERM)
        self.write_parts()

    async def _restart_database(self) -> None:
        infra = self.infra
        assert infra.database is not None
        delay = infra.database_backoff.next_delay()
        self._say(
            "postgres",
            f"embedded PostgreSQL exited; restarting in {delay}s on the same data directory"
            " (its data is kept; services retry their batch)",
        )
        await asyncio.sleep(delay)
        if self._stopping:
            return
        try:
            await asyncio.to_thread(infra.database.restart)
        except Exception as exc:  # tried again on the next round, with a longer wait
            self._say("postgres", f"could not restart: {exc!r}")
            return
        infra.database_backoff.started()
        self._say("postgres", f"embedded PostgreSQL restarted: {redact(infra.database_url)}")
        self.write_parts()

    def write_parts(self) -> None:
        """`<data dir>/parts.json`: each embedded part's address, restarts, last restart."""
        infra = self.infra
        parts: dict[str, object] = {}
        if infra.broker is not None:
            parts["kafka"] = {
                "address": infra.bootstrap,
                "restarts": infra.broker_backoff.total,
                "last_restart": infra.broker_backoff.last_restart,
            }
        if infra.database is not None:
            parts["postgres"] = {
                "address": redact(infra.database_url),
                "restarts": infra.database_backoff.total,
                "last_restart": infra.database_backoff.last_restart,
            }
        if parts:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            (self.settings.data_dir / "parts.json").write_text(json.dumps(parts, indent=2))

    async def provision_roles(self, names: tuple[str, ...] = SERVICES) -> None:
        """Each service connects as its own role, owning its own schema only (SPEC §8)."""
        if not self.settings.db_roles:
            return
        conn = await asyncpg.connect(self.infra.database_url)
        try:
            if not await roles.can_provision(conn):
                self.echo(
                    "note: the database user cannot create roles: every service connects "
                    "as it (set SANZHENG_DB_ROLES=false to silence this)"
                )
                return
            secret = self.settings.id_hash_key
            for name in names:
                schema = name.replace("-", "_")
                await roles.provision(conn, schema, secret)
                self.database_urls[name] = roles.url_for(self.infra.database_url, schema, secret)
        finally:
            await conn.close()

    async def start(self, names: tuple[str, ...] = SERVICES) -> None:
        await self.provision_roles(names)
        base = self.settings.http_port
        starting = []
        for name in names:
            replicas = 1 if name == "gateway" else self.settings.replicas
            for replica in range(1, replicas + 1):
                preferred = (
                    base
                    if name == "gateway"
                    else base + 1 + SERVICES.index(name) + REPLICA_PORT_STRIDE * (replica - 1)
                )
                starting.append(ServiceProcess(name, free_port(preferred), replica, replicas))
        self.services += starting  # all named before the first log line (the prefix width)
        for svc in starting:
            await self._spawn(svc)

    async def wait_ready(self, timeout: float | None = None) -> None:
        # Every process starts at once and competes for the cores: more of them, more time.
        timeout = timeout or max(120.0, 20.0 * len(self.services))
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            for svc in self.services:
                while True:
                    try:
                        if (await client.get(svc.url + "/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{svc.label} not ready after {timeout:.0f}s")
                    await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self._stopping = True
        for svc in self.services:
            if svc.process and svc.process.returncode is None:
                svc.process.send_signal(signal.SIGTERM)
        for svc in self.services:
            if svc.process is None:
                continue
            try:
                await asyncio.wait_for(svc.process.wait(), 60)
            except TimeoutError:
                self.echo(f"{svc.label:<{self.width}} | did not stop in 60s; killing")
                svc.process.kill()
                await svc.process.wait()
            if svc.pump:
                await svc.pump
        await asyncio.to_thread(self.infra.stop)


def describe(infra: Infrastructure, services: list[ServiceProcess]) -> list[str]:
    kafka_note = "" if infra.broker is None else "  (embedded Tansu, in memory)"
    db_note = "" if infra.database is None else "  (embedded PostgreSQL)"
    lines = [
        f"kafka     {infra.bootstrap}{kafka_note}",
        f"postgres  {redact(infra.database_url)}{db_note}",
    ]
    lines += [f"{svc.label:<9} {svc.url}" for svc in services]
    return lines


async def run_system(
    settings: Settings,
    *,
    echo: Callable[[str], None] = print,
    after_ready: Callable[[System], Awaitable[None]] | None = None,
    stream_logs: bool = True,
) -> int:
    """Start everything, print the addresses and `ready`, run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    infra = await asyncio.to_thread(Infrastructure.start, settings)
    system = System(settings, infra, echo=echo, stream_logs=stream_logs)
    try:
        await system.start()
        ready = asyncio.create_task(system.wait_ready())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            ready.cancel()
            return 130
        ready.result()
        for line in describe(infra, system.services):
            echo(line)
        echo("ready")
        system.write_parts()
        watcher = asyncio.create_task(system.watch_infrastructure(), name="watch-infrastructure")
        if after_ready is not None:
            await after_ready(system)
        await stopped
        watcher.cancel()
        echo("stopping: services finish their batch, then the broker and the database stop")
        return 0
    finally:
        await system.stop()
        echo("stopped")
