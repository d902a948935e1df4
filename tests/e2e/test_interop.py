"""A school's integrator with the official CloudEvents SDK: the same lifecycle published in
structured and in binary mode, over Kafka (librdkafka) and over HTTP (httpx), ends in the
same student state; binary-mode events replay like structured ones."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from sanzheng_shared.testing import eventually, fetch
from tests.e2e.conftest import (
    SCHEMAS,
    RunningGateway,
    lifecycle,
    projection_snapshot,
    replay_service,
)
from tests.sdk import MODES, Mode, http_message, kafka_message

pytestmark = pytest.mark.slow

DOMAIN_OF = {
    "student": "enrollment",
    "labor_education": "labor-education",
    "internship": "internship",
    "certificate": "certificates",
    "course": "credits",
}


def _publish_kafka(gateway: RunningGateway, events: list[dict[str, Any]], mode: Mode) -> None:
    domain = gateway.domain
    producer = Producer({"bootstrap.servers": domain.settings.kafka_bootstrap, "acks": "all"})
    for event in events:
        message = kafka_message(event, mode)
        producer.produce(
            domain.topics.inbound(DOMAIN_OF[event["type"].split(".")[0]]),
            key=message.key,
            value=message.value,
            headers=list(message.headers.items()),
        )
    assert producer.flush(10) == 0


async def _post_http(gateway: RunningGateway, events: list[dict[str, Any]], mode: Mode) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:
        for event in events:
            headers, body = http_message(event, mode)
            answer = await c.post("/v1/events", content=body, headers=headers)
            assert answer.status_code == 202, answer.text
            assert answer.json()["accepted"] == [event["id"]]


_VOLATILE = {"id", "event_id", "decided_at", "received_at", "seq", "since"}


def _comparable(value: Any, student: str) -> Any:
    """The state with the student's own ids and arrival clocks taken out; lists in a
    canonical order (two certificates issued the same day list in arrival order)."""
    if isinstance(value, dict):
        return {k: _comparable(v, student) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        items = [_comparable(v, student) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    if isinstance(value, str):
        return re.sub(re.escape(student), "<student>", value)
    return value


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(a.keys() | b.keys())
            for d in _differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


async def _state(gateway: RunningGateway, student: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=gateway.url, headers=gateway.headers("counselor-1")
    ) as client:

        async def probe() -> dict[str, Any]:
            status = await client.get(f"/v1/students/{student}")
            timeline = await client.get(f"/v1/students/{student}/timeline")
            if status.status_code != 200 or timeline.status_code != 200:
                return {}
            return {"status": status.json(), "timeline": timeline.json()}

        def complete(state: dict[str, Any]) -> bool:
            """Every event folded and decided: only the skill certificate is missing."""
            status = state.get("status") or {}
            requirements = (status.get("graduation") or {}).get("requirements") or []
            return (
                len(state.get("timeline", [])) == 8
                and len(status.get("certificates") or []) == 1
                and (status.get("internships") or [{}])[0].get("status") == "completed"
                and [r["code"] for r in requirements if not r["met"]] == ["SKILL_1X"]
            )

        state = await eventually(probe, complete, timeout=90, interval=0.5)
    return _comparable(state, student)


@pytest.fixture(scope="module")
async def published(gateway: RunningGateway) -> dict[tuple[str, Mode], str]:
    """One student per (transport, mode), each with the same lifecycle."""
    students: dict[tuple[str, Mode], str] = {}
    for transport in ("kafka", "http"):
        for mode in MODES:
            student = f"I{uuid.uuid4().hex[:8]}"
            students[(transport, mode)] = student
            events = lifecycle(student, "SCH001")
            if transport == "kafka":
                _publish_kafka(gateway, events, mode)
            else:
                await _post_http(gateway, events, mode)
    return students


async def test_structured_and_binary_end_in_the_same_state_over_kafka_and_http(
    gateway: RunningGateway, published: dict[tuple[str, Mode], str]
) -> None:
    states = {key: await _state(gateway, student) for key, student in published.items()}
    reference = states[("kafka", "structured")]
    [skill] = [
        r for r in reference["status"]["graduation"]["requirements"] if r["code"] == "SKILL_1X"
    ]
    assert not skill["met"]
    for key, state in states.items():
        assert not _differences(state, reference), f"{key} differs from structured over Kafka"


async def test_binary_events_are_logged_structured_and_replay_to_the_same_projection(
    gateway: RunningGateway, published: dict[tuple[str, Mode], str]
) -> None:
    from sanzheng.main import all_specs

    domain = gateway.domain
    for student in published.values():
        await _state(gateway, student)  # every service has folded every event
    binary = published[("kafka", "binary")]
    rows = await fetch(
        domain.url,
        "SELECT value FROM enrollment.event_log WHERE student_id = $1"
        " AND type = 'student.enrolled'",
        binary,
    )
    [logged] = [json.loads(bytes(r["value"])) for r in rows]
    assert logged["specversion"] == "1.0" and logged["data"]["cohort"] == 2023

    for spec in (s for s in all_specs() if s.schema in SCHEMAS):
        live = await projection_snapshot(domain.url, spec)
        result = await replay_service(domain, spec)
        assert result.events > 0
        rebuilt = await projection_snapshot(domain.url, spec)
        for name in live:
            assert set(live[name]) == set(rebuilt[name]), f"{spec.name}.{name} after replay"
