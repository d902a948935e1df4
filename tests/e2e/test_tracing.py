"""Traces end to end: one event posted to the gateway is one trace, from the HTTP ingest
through its owning service and the certificates service to the gateway's read model; the
W3C trace context travels in the events (`traceparent`), to `graduation.events`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sanzheng_shared.testing import enrolled, eventually, read_events
from sanzheng_shared.tracing import add_trace_id, event_span
from tests.e2e.conftest import RunningGateway
from tests.sdk import Mode, http_message

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # later modules' spans are dropped, not kept in memory


def _hex(trace_id: int) -> str:
    return format(trace_id, "032x")


async def _post(gateway: RunningGateway, event: dict[str, Any], mode: Mode) -> None:
    headers, body = http_message(event, mode)
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:
        answer = await c.post("/v1/events", content=body, headers=headers)
    assert answer.status_code == 202, answer.text


async def _trace_of(spans: InMemorySpanExporter, event_id: str) -> list[ReadableSpan]:
    """Every span of the trace the ingest of `event_id` belongs to, once the gateway has
    folded the graduation decision it led to."""

    async def finished() -> list[ReadableSpan]:
        return list(spans.get_finished_spans())

    def ingested(found: list[ReadableSpan]) -> bool:
        return any((s.attributes or {}).get("cloudevents.event_id") == event_id for s in found)

    found = await eventually(finished, ingested, timeout=30)
    [ingest] = [
        s
        for s in found
        if s.name.startswith("gateway ingest")
        and (s.attributes or {}).get("cloudevents.event_id") == event_id
    ]
    assert ingest.context is not None
    trace_id = ingest.context.trace_id

    async def of_trace() -> list[ReadableSpan]:
        return [
            s
            for s in spans.get_finished_spans()
            if s.context is not None and s.context.trace_id == trace_id
        ]

    return await eventually(
        of_trace,
        lambda mine: any(s.name == "gateway graduation.eligibility_changed" for s in mine),
        timeout=90,
        interval=0.5,
    )


async def test_one_posted_event_is_one_trace_across_every_service(
    spans: InMemorySpanExporter, gateway: RunningGateway
) -> None:
    student = f"T{uuid.uuid4().hex[:8]}"
    event = enrolled(student)
    await _post(gateway, event, "structured")

    mine = await _trace_of(spans, event["id"])
    names = {s.name for s in mine}
    assert {
        "POST /v1/events",
        "gateway ingest student.enrolled",
        "enrollment student.enrolled → student.enrolled",
        "certificates student.enrolled → graduation.eligibility_changed",
        "gateway student.enrolled",
        "gateway graduation.eligibility_changed",
    } <= names, names
    [root] = [s for s in mine if s.parent is None]
    assert root.name == "POST /v1/events"

    # The context reached graduation.events in the event itself (the outbox kept it).
    assert gateway.domain.settings.kafka_bootstrap
    announced = [
        e
        for e in await read_events(
            gateway.domain.settings.kafka_bootstrap, gateway.domain.topics.graduation
        )
        if e["subject"] == student
    ]
    assert announced
    assert all(e["traceparent"].split("-")[1] == _hex(root.context.trace_id) for e in announced)


async def test_a_schools_own_trace_context_in_binary_mode_is_continued(
    spans: InMemorySpanExporter, gateway: RunningGateway
) -> None:
    school_trace = uuid.uuid4().hex
    event = enrolled(f"T{uuid.uuid4().hex[:8]}") | {
        "traceparent": f"00-{school_trace}-{uuid.uuid4().hex[:16]}-01",
        "tracestate": "sis=sch001",
    }
    await _post(gateway, event, "binary")  # as `ce-traceparent` and `ce-tracestate`

    mine = await _trace_of(spans, event["id"])
    assert {_hex(s.context.trace_id) for s in mine if s.context} == {school_trace}
    assert "certificates student.enrolled → graduation.eligibility_changed" in {
        s.name for s in mine
    }


def test_log_lines_carry_the_trace_id_of_the_event_in_hand(spans: InMemorySpanExporter) -> None:
    from sanzheng_shared.events.envelope import CloudEvent

    event = CloudEvent.model_validate(enrolled("S1"))
    with event_span("test", event) as context:
        line = add_trace_id(None, "info", {"event": "something"})
    assert line["trace_id"] == context["traceparent"].split("-")[1]
    assert "trace_id" not in add_trace_id(None, "info", {"event": "outside"})
