"""The four domain services running in this process on the real broker and database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sanzheng_certificates.app import SPEC as CERTIFICATES
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_internship.app import SPEC as INTERNSHIP
from sanzheng_labor_education.app import SPEC as LABOR
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import ServiceRuntime
from sanzheng_shared.settings import Settings
from sanzheng_shared.testing import (
    create_database,
    drop_database,
    eventually,
    fetch,
    publish,
    read_events,
)

SCHEMAS = ("enrollment", "internship", "labor_education", "certificates")


class Domain:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = TopicNames(settings.topic_prefix)
        self.runtimes = [
            ServiceRuntime(spec, settings) for spec in (ENROLLMENT, INTERNSHIP, LABOR, CERTIFICATES)
        ]

    @property
    def url(self) -> str:
        assert self.settings.database_url
        return self.settings.database_url

    async def send(self, domain: str, *events: dict[str, Any]) -> None:
        assert self.settings.kafka_bootstrap
        await publish(self.settings.kafka_bootstrap, self.topics.inbound(domain), list(events))

    async def decision(self, student: str) -> dict[str, Any] | None:
        rows = await fetch(
            self.url,
            "SELECT eligible, requirements, policy_version"
            " FROM certificates.decisions WHERE student_id = $1",
            student,
        )
        if not rows:
            return None
        missing = {r["code"] for r in json.loads(rows[0]["requirements"]) if not r["met"]}
        return {
            "eligible": rows[0]["eligible"],
            "missing": missing,
            "requirements": json.loads(rows[0]["requirements"]),
        }

    async def wait_missing(self, student: str, missing: set[str], timeout: float = 60) -> Any:
        return await eventually(
            lambda: self.decision(student),
            lambda d: d is not None and d["missing"] == missing,
            timeout=timeout,
        )

    async def rejections(self, student: str) -> list[dict[str, Any]]:
        assert self.settings.kafka_bootstrap
        events = await read_events(self.settings.kafka_bootstrap, self.topics.rejections)
        return [e for e in events if e["subject"] == student]

    async def wait_quiet(self, sent: list[dict[str, Any]], timeout: float = 300) -> None:
        """Until every event `sent` was applied by its service, every outbox is published, and
        nothing new was applied for a while: all consequences have been decided."""
        ids = sorted({e["id"] for e in sent})
        claimed = " + ".join(
            f"(SELECT count(DISTINCT id) FROM {s}.inbox WHERE id = ANY($1::text[]))"
            for s in SCHEMAS
        )
        counts = " + ".join(f"(SELECT count(*) FROM {s}.inbox)" for s in SCHEMAS)
        pending = " + ".join(
            f"(SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL)" for s in SCHEMAS
        )
        seen: list[int] = []

        async def quiet() -> bool:
            row = (
                await fetch(
                    self.url,
                    f"SELECT {claimed} AS mine, {counts} AS applied, {pending} AS unsent",
                    ids,
                )
            )[0]
            seen.append(int(row["applied"]))
            return (
                row["mine"] >= len(ids)
                and row["unsent"] == 0
                and len(seen) >= 4
                and len(set(seen[-4:])) == 1
            )

        await eventually(quiet, timeout=timeout, interval=0.5)


@pytest.fixture(scope="module")
async def domain(kafka_bootstrap: str, admin_database_url: str) -> AsyncIterator[Domain]:
    name, url = await create_database(admin_database_url)
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=url,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        topic_partitions=3,
        outbox_poll_seconds=0.2,
    )
    running = Domain(settings)
    await asyncio.gather(*(runtime.start() for runtime in running.runtimes))
    yield running
    for runtime in reversed(running.runtimes):
        await runtime.stop()
    await drop_database(admin_database_url, name)
