"""The five domain services running in this process on the real broker and database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sanzheng_certificates.app import SPEC as CERTIFICATES
from sanzheng_credits.app import SPEC as CREDITS
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_internship.app import SPEC as INTERNSHIP
from sanzheng_labor_education.app import SPEC as LABOR
from sanzheng_shared.kafka.topics import DOMAINS, TopicNames, ensure_topics
from sanzheng_shared.service import ServiceRuntime
from sanzheng_shared.settings import Settings
from sanzheng_shared.testing import (
    cloudevent,
    create_database,
    drop_database,
    enrolled,
    eventually,
    fetch,
    lawful_post_internship,
    publish,
    read_events,
)

SCHEMAS = ("enrollment", "internship", "labor_education", "certificates", "credits")


async def wait_quiet(database_url: str, sent: list[dict[str, Any]], timeout: float = 300) -> None:
    """Until every event `sent` was applied by its service, every outbox is published, and
    nothing new was applied for a while: all consequences have been decided."""
    ids = sorted({e["id"] for e in sent})
    claimed = " + ".join(
        f"(SELECT count(DISTINCT id) FROM {s}.inbox WHERE id = ANY($1::text[]))" for s in SCHEMAS
    )
    counts = " + ".join(f"(SELECT count(*) FROM {s}.inbox)" for s in SCHEMAS)
    pending = " + ".join(f"(SELECT count(*) FROM {s}.outbox)" for s in SCHEMAS)
    seen: list[int] = []

    async def quiet() -> bool:
        row = (
            await fetch(
                database_url,
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


class Domain:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = TopicNames(settings.topic_prefix)
        self.runtimes = [
            ServiceRuntime(spec, settings)
            for spec in (ENROLLMENT, INTERNSHIP, LABOR, CERTIFICATES, CREDITS)
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
        await wait_quiet(self.url, sent, timeout)


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
    # Two schools' own topics exist before the services subscribe by pattern (a pattern
    # finds new topics only at its next metadata refresh).
    await ensure_topics(
        kafka_bootstrap,
        [
            TopicNames(settings.topic_prefix).inbound(d, school)
            for d in DOMAINS
            for school in ("SCH001", "SCH002")
        ],
        partitions=3,
    )
    running = Domain(settings)
    await asyncio.gather(*(runtime.start() for runtime in running.runtimes))
    yield running
    for runtime in reversed(running.runtimes):
        await runtime.stop()
    await drop_database(admin_database_url, name)


# Storage ids and arrival clocks are not part of what a projection says; nor is whether a
# hold was announced yet (delivery bookkeeping, which the running services' sweep may
# change between the two snapshots).
_NOT_COMPARED = {"seq", "received_at", "announced"}


def _comparable(column: str, value: Any) -> str:
    if column == "national_id_enc" and value is not None:
        # Fernet encrypts with a fresh IV each time: compare what it decrypts to.
        from sanzheng_enrollment.privacy import vault

        return vault().reveal(bytes(value))
    return str(value)


async def projection_snapshot(url: str, spec: Any) -> dict[str, list[tuple]]:
    tables = {}
    for table in spec.state().tables():
        rows = await fetch(url, f"SELECT * FROM {spec.schema}.{table.name}")
        tables[table.name] = sorted(
            tuple(
                (k, _comparable(k, v)) for k, v in sorted(dict(r).items()) if k not in _NOT_COMPARED
            )
            for r in rows
        )
    return tables


async def replay_service(domain: Domain, spec: Any) -> Any:
    import asyncpg

    from sanzheng_shared.engine.replay import replay
    from sanzheng_shared.policy import PolicyBook

    conn = await asyncpg.connect(domain.url)
    try:
        await conn.execute(f"SET search_path TO {spec.schema}, public")
        return await replay(
            conn, spec, topics=domain.topics, policies=PolicyBook.load(None), emit=False
        )
    finally:
        await conn.close()


class RunningGateway:
    def __init__(self, domain: Domain, gateway: Any, url: str, tokens: dict[str, str]) -> None:
        self.domain, self.gateway, self.url, self.tokens = domain, gateway, url, tokens

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
async def gateway(domain: Domain) -> AsyncIterator[RunningGateway]:
    import asyncpg

    from sanzheng.embedded import free_port
    from sanzheng_gateway import tokens
    from sanzheng_gateway.app import Gateway

    settings = domain.settings.model_copy(update={"http_port": free_port()})
    running = Gateway(settings)
    await running.start()
    conn = await asyncpg.connect(domain.url)
    await conn.execute("SET search_path TO gateway")
    issued = {
        "sis-1": await tokens.create(conn, "sis", "SCH001"),
        "sis-2": await tokens.create(conn, "sis", "SCH002"),
        "counselor-1": await tokens.create(conn, "counselor", "SCH001"),
        "counselor-2": await tokens.create(conn, "counselor", "SCH002"),
        "bureau": await tokens.create(conn, "bureau", None),
        "admin": await tokens.create(conn, "admin", None),
    }
    await conn.close()
    yield RunningGateway(domain, running, f"http://127.0.0.1:{settings.http_port}", issued)
    await running.stop()


STRUCTURED = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}


def lifecycle(student: str, school: str) -> list[dict[str, Any]]:
    iid = f"INT-{student}"
    events = [
        enrolled(student, cohort=2023, birth_date="2007-03-01"),
        cloudevent(
            "labor_education.completed",
            student,
            {
                "period_start": "2025-06-02",
                "period_end": "2025-06-30",
                "hours": 160,
                "site": "实训基地",
                "evaluation": "pass",
            },
        ),
        cloudevent(
            "internship.started",
            student,
            lawful_post_internship(iid),
        )
        | {"dataversion": "2"},
        cloudevent(
            "internship.completed",
            student,
            {"internship_id": iid, "end_on": "2026-02-28", "hours": 640, "evaluation": "pass"},
        ),
        # The academic program: 3,000 class hours, 1,700 of them practice, 172 credits.
        *(
            cloudevent(
                "course.completed",
                student,
                {
                    "course_code": code,
                    "course_name": f"课程 {code}",
                    "category": category,
                    "class_hours": hours,
                    "practice_hours": practice,
                    "credits": credits,
                    "score": 80,
                    "term": "2025-1",
                },
            )
            for code, category, hours, practice, credits in (
                ("PUB", "public-basic", 1000, 200, 56),
                ("PRO", "professional", 1300, 800, 76),
                ("PRA", "practice", 700, 700, 40),
            )
        ),
        cloudevent(
            "certificate.earned",
            student,
            {
                "certificate_no": f"Q-{student}",
                "kind": "quality",
                "title": "素质融合证书",
                "issuer": school,
                "issued_on": "2026-06-20",
            },
        ),
    ]
    # No diploma: the school sends it only for a student it believes eligible, and this one
    # has no skill certificate.
    when = ["2023-09-01", "2025-06-30", "2025-09-01", "2026-02-28"]
    when += ["2024-01-15", "2024-06-28", "2025-01-15", "2026-06-20"]
    for e, day in zip(events, when, strict=True):
        e["source"], e["schoolid"], e["time"] = f"sis/{school}", school, f"{day}T09:00:00+08:00"
    return events


@pytest.fixture(scope="module")
async def students(gateway: RunningGateway) -> dict[str, str]:
    """One student per school, posted over HTTP by each school's own sis token."""
    ids = {"SCH001": f"A{uuid.uuid4().hex[:8]}", "SCH002": f"B{uuid.uuid4().hex[:8]}"}
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for n, (school, sid) in enumerate(ids.items(), start=1):
            events = lifecycle(sid, school)
            answer = await client.post(
                "/v1/events",
                content=json.dumps(events),
                headers={**BATCH, **gateway.headers(f"sis-{n}")},
            )
            assert answer.status_code == 202, answer.text
            assert answer.json()["accepted"] == [e["id"] for e in events]

        async def decided() -> int:
            found = 0
            for sid in ids.values():
                r = await client.get(
                    f"/v1/students/{sid}/graduation", headers=gateway.headers("bureau")
                )
                missing = [q["code"] for q in r.json().get("requirements", []) if not q["met"]]
                found += r.status_code == 200 and missing == ["SKILL_1X"]
            return found

        await eventually(decided, lambda n: n == 2, timeout=90)
        for sid in ids.values():
            await timeline_caught_up(client, sid, gateway.headers("bureau"))
    return ids


async def timeline_caught_up(client: httpx.AsyncClient, sid: str, headers: Any) -> None:
    """Waits until the gateway's timeline of the student (which what-if and `as_of` fold)
    holds what the announced decision was made from: it follows the domain topics, the
    decision comes on graduation.events, and under load one trails the other a moment."""

    async def changes() -> list[str]:
        answer = await client.post(
            f"/v1/students/{sid}/graduation/what-if", json={}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        return [c["code"] for c in answer.json()["changes"]]

    await eventually(changes, lambda codes: codes == [], timeout=60)
