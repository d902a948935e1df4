"""Infrastructure for every test: a Kafka-compatible broker and PostgreSQL.

Picked in order: external ones (SANZHENG_KAFKA_BOOTSTRAP / SANZHENG_DATABASE_URL), then
testcontainers when a Docker engine answers, then the embedded ones (Tansu, embedded
PostgreSQL). Each test gets a fresh database and a fresh topic prefix.
"""

from __future__ import annotations

import asyncio
import faulthandler
import functools
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sanzheng_shared.settings import Settings
from sanzheng_shared.testing import create_database, drop_database


@functools.cache
def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


# The embedded broker holds every consumer group join for half the session timeout: at
# Kafka's 10 s, each service start in a test waited 5 s. Apache Kafka refuses sessions under
# 6 s (group.min.session.timeout.ms), so this is only for the embedded broker. The services
# the tests start in this process use it; `sanzheng up` in the end-to-end and fault tests
# starts from a clean environment, so its services keep Kafka's default.
TEST_SESSION_TIMEOUT_MS = "3000"


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("SANZHENG_KAFKA_BOOTSTRAP") and not _docker_available():
        os.environ.setdefault("SANZHENG_KAFKA_SESSION_TIMEOUT_MS", TEST_SESSION_TIMEOUT_MS)
        from sanzheng.embedded import embedded_broker_env

        # As `sanzheng up` runs services on the embedded broker (sanzheng/embedded.py).
        os.environ.update(embedded_broker_env())


# pytest-timeout's signal can land inside an asyncio callback, where the event loop logs it
# and carries on; a hung test then held the whole run until CI's own limit, with no trace of
# where. Past this, the stacks (threads and asyncio tasks) are printed and the run stops.
HUNG_TEST_SECONDS = float(os.environ.get("SANZHENG_HUNG_TEST_SECONDS", "480"))


def _report_hung_test_and_exit(item: pytest.Item) -> None:
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # what the test printed, and the stacks, reach the terminal
        capture.suspend_global_capture(in_=True)
        out, err = capture.read_global_capture()
        sys.stderr.write(out + err)
    sys.stderr.write(f"\n\n{item.nodeid} still running after {HUNG_TEST_SECONDS} s; stacks:\n")
    sys.stderr.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    try:
        # The registry of every task: a private name, which moved in Python 3.12.
        registry = getattr(asyncio.tasks, "_all_tasks", None)
        if registry is None:
            registry = getattr(asyncio.tasks, "_scheduled_tasks", ())
        for task in list(registry):
            if not task.done():
                sys.stderr.write(f"\n{task!r}\n")
                task.print_stack(file=sys.stderr)
    except Exception as exc:  # the loop's thread is running: best effort
        sys.stderr.write(f"(asyncio tasks not listed: {exc!r})\n")
    sys.stderr.flush()
    os._exit(3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    watchdog = threading.Timer(HUNG_TEST_SECONDS, _report_hung_test_and_exit, (item,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if external := os.environ.get("SANZHENG_KAFKA_BOOTSTRAP"):
        yield external
    elif _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        from sanzheng.embedded import EmbeddedBroker

        broker = EmbeddedBroker.start()
        yield broker.bootstrap
        broker.stop()


@pytest.fixture(scope="session")
def admin_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if external := os.environ.get("SANZHENG_DATABASE_URL"):
        yield external
    elif _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as pg:
            yield pg.get_connection_url()
    else:
        from sanzheng.embedded import EmbeddedDatabase

        # Not under pytest's tmp dir: another pytest session resets that tree to mode 0700,
        # which locks out the server's own system user mid-run.
        data = Path(tempfile.mkdtemp(prefix="sanzheng-test-pg-"))
        db = EmbeddedDatabase.start(data)
        yield db.url
        db.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
async def database_url(admin_database_url: str) -> AsyncIterator[str]:
    name, url = await create_database(admin_database_url)
    yield url
    await drop_database(admin_database_url, name)


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def settings(kafka_bootstrap: str, database_url: str, topic_prefix: str) -> Settings:
    return Settings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=topic_prefix,
        topic_partitions=3,
        service_http_port=0,
        outbox_poll_seconds=0.2,
        # A second consumer group per service costs seconds at every start; the tests of
        # school topics turn it on.
        school_topics=False,
    )


@pytest.fixture
async def start_service(settings: Settings) -> AsyncIterator[object]:
    """Start a service in this process (real broker, real database); stopped after the test."""
    from sanzheng_shared.service import ServiceRuntime, ServiceSpec

    running: list[ServiceRuntime] = []

    async def start(spec: ServiceSpec, **overrides: object) -> ServiceRuntime:
        runtime = ServiceRuntime(spec, settings.model_copy(update=overrides))
        await runtime.start()
        running.append(runtime)
        return runtime

    yield start
    for runtime in reversed(running):
        if runtime.pool is not None and not runtime.pool._closed:
            await runtime.stop()
