"""The gateway: its own read model (from the outbound topics and graduation.events), the
HTTP API, CloudEvents ingest and the counselors' dashboard, in one process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from fastapi import FastAPI

from sanzheng_gateway import handlers, republish
from sanzheng_gateway.api import create_api
from sanzheng_gateway.ingest import Ingest
from sanzheng_gateway.projection import GatewayState
from sanzheng_gateway.web import mount_dashboard
from sanzheng_shared.consumer.batch import Routes
from sanzheng_shared.http_server import EmbeddedHttpServer
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.logging import configure_logging, get_logger
from sanzheng_shared.policy import PolicyBook
from sanzheng_shared.service import ServiceRuntime, ServiceSpec, stop_when_orphaned
from sanzheng_shared.settings import Settings, get_settings
from sanzheng_shared.tracing import configure_tracing, traced

log = get_logger(__name__)


def routes(topics: TopicNames) -> Routes:
    table = {
        topics.outbound("enrollment"): handlers.ENROLLMENT,
        topics.outbound("internship"): handlers.INTERNSHIP,
        topics.outbound("labor-education"): handlers.LABOR,
        topics.outbound("certificates"): handlers.CERTIFICATES,
        topics.outbound("credits"): handlers.CREDITS,
        topics.graduation: handlers.GRADUATION,
    }
    # Each event folded into the read model is a span of the event's trace.
    return {
        topic: {t: traced("gateway", h) for t, h in by_type.items()}
        for topic, by_type in table.items()
    }


SPEC = ServiceSpec(
    name="gateway",
    description="Read model for the HTTP API and the dashboard",
    migrations=Path(__file__).parent / "migrations",
    routes=routes,
    state=GatewayState,
)


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # The API serves /healthz, /readyz and /metrics itself, on the gateway's port.
        self.runtime = ServiceRuntime(SPEC, settings.model_copy(update={"service_http_port": 0}))
        self.ingest: Ingest | None = None
        self.api: FastAPI = create_api(
            lambda: self.runtime.pool,
            lambda: self.ingest,
            self.runtime.ready,
            docs=settings.api_docs,
            policies=PolicyBook.load(settings.policy_dir),
        )
        mount_dashboard(self.api, lambda: self.runtime.pool)
        self.http: EmbeddedHttpServer | None = None
        self.republisher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.runtime.start()
        self.ingest = Ingest(self.runtime.pool, self.runtime.topics, SPEC.schema)
        self.republisher = asyncio.create_task(
            republish.watch(self.runtime, self.settings.ingest_retention_hours),
            name="republish-after-broker-restart",
        )
        self.http = EmbeddedHttpServer(self.api, self.settings.http_host, self.settings.http_port)
        await self.http.start()
        log.info("gateway_listening", url=f"http://{self.settings.http_host}:{self.http.port}")

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()
        if self.republisher is not None:
            self.republisher.cancel()
        await self.runtime.stop()


async def _run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(settings)
    gateway.runtime.settle_collector = True
    await gateway.start()
    watchdog = asyncio.create_task(stop_when_orphaned(stop))
    await stop.wait()
    watchdog.cancel()
    await gateway.stop()


def main() -> None:
    settings = get_settings()
    configure_logging("gateway", settings.log_level, settings.log_format)
    configure_tracing("gateway")
    asyncio.run(_run(settings))
