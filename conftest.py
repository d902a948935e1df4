"""Infrastructure for every test: a Kafka-compatible broker and PostgreSQL.

Picked in order: external ones (SANZHENG_KAFKA_BOOTSTRAP / SANZHENG_DATABASE_URL), then
testcontainers when a Docker engine answers, then the embedded ones (Tansu, embedded
PostgreSQL). Each test gets a fresh database and a fresh topic prefix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sanzheng_shared.settings import Settings
from sanzheng_shared.testing import create_database, drop_database


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


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
