"""Traces end to end: the W3C trace context travels *in the event*, as the CloudEvents
distributed-tracing extension (`traceparent`, `tracestate`), so it survives the outbox, a
replay of the event log and either content mode (`ce_traceparent` in binary mode).

Each step that handles an event opens a span whose parent is the event's trace context
(`event_span`): the gateway's ingest, every service deriving an event from it (a
canonical event, a rejection, a graduation decision) and the gateway's read model. What
a service derives carries the context of that span, so one inbound event is one trace.

OpenTelemetry's SDK records the spans and exports them (OTLP over HTTP) when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set (or when a test installs an SDK provider). Otherwise
nobody would ever read a span, and recording one per event cost a fifth of each service's
time (measured with py-spy under `sanzheng bench`): a derived event then carries its
cause's trace context unchanged (the school's trace, when it sent one), and log lines carry
the event's trace id either way.

FastStream's Kafka telemetry middleware is not used: it reads a `traceparent` *Kafka
header* and opens one span per consumed batch, which would not join the event's trace.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from sanzheng_shared.events.envelope import CloudEvent

TRACE_ATTRIBUTES = ("traceparent", "tracestate")
_PROPAGATOR = TraceContextTextMapPropagator()


def trace_attributes(event: CloudEvent) -> dict[str, str]:
    """The event's own trace context (its `traceparent` and `tracestate`), if any."""
    extra = event.model_extra or {}
    return {k: extra[k] for k in TRACE_ATTRIBUTES if isinstance(extra.get(k), str)}


def event_trace_id(event: CloudEvent) -> str | None:
    """The trace id in the event's `traceparent` (version-traceid-spanid-flags), if any."""
    parts = trace_attributes(event).get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


_TRACER = trace.get_tracer("sanzheng")  # a proxy: follows the provider set later


_recording = False


def recording() -> bool:
    """Whether spans are recorded: an SDK provider is installed (configure_tracing does so
    only when spans are exported; a test may install its own).

    Asked for every event. Until a provider is set, `get_tracer_provider()` looks up an
    environment variable on each call: a sixteenth of the gateway's CPU under `sanzheng
    bench` (py-spy). A provider, once set, cannot be replaced, so a True answer is kept;
    before that, the module's global is read where the API keeps it (the public call where
    it does not)."""
    global _recording
    if not _recording:
        provider = getattr(trace, "_TRACER_PROVIDER", _UNKNOWN)
        if provider is _UNKNOWN or (provider is None and _PROVIDER_NAMED_IN_ENV):
            provider = trace.get_tracer_provider()  # it may load the named provider
        _recording = isinstance(provider, TracerProvider)
    return _recording


_UNKNOWN = object()
_PROVIDER_NAMED_IN_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def _current() -> dict[str, str]:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


@contextmanager
def event_span(
    name: str,
    event: CloudEvent,
    *,
    kind: trace.SpanKind = trace.SpanKind.CONSUMER,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[dict[str, str]]:
    """A span for handling `event`: a child of the event's trace context, or of the
    current span when the event has none (a school that sent no `traceparent`). Yields the
    trace attributes to put on what is derived from the event."""
    own = trace_attributes(event)
    if not recording():
        yield dict(own)  # the cause's context, unchanged: deterministic, and no span to name
        return
    parent: Context | None = _PROPAGATOR.extract(own) if "traceparent" in own else None
    with _TRACER.start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes={
            "cloudevents.event_id": event.id,
            "cloudevents.event_source": event.source,
            "cloudevents.event_type": event.type,
            "cloudevents.event_subject": event.subject or "",
            **(attributes or {}),
        },
    ):
        yield _current() or own


EventHandler = Callable[[CloudEvent, Any, Any], None]


def traced(service: str, handler: EventHandler) -> EventHandler:
    """The handler, run in a span of the event's trace (for a consumer that derives
    nothing, as the gateway's read model)."""

    def run(event: CloudEvent, data: Any, ctx: Any) -> None:
        with event_span(f"{service} {event.type}", event):
            handler(event, data, ctx)

    return run


def with_trace(event: CloudEvent, attributes: Mapping[str, str]) -> CloudEvent:
    """The event with these trace attributes (a stale `tracestate` dropped)."""
    if not attributes or attributes == trace_attributes(event):
        return event
    document = event.model_dump(exclude_none=True)
    for name in TRACE_ATTRIBUTES:
        document.pop(name, None)
    return CloudEvent.model_validate({**document, **attributes})


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def add_trace_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the trace id of the span in hand, on every log line."""
    if "trace_id" not in event_dict and (trace_id := current_trace_id()):
        event_dict["trace_id"] = trace_id
    return event_dict


def configure_tracing(service: str) -> None:
    """When `OTEL_EXPORTER_OTLP_ENDPOINT` is set: the process's tracer provider with the
    OTLP exporter, and asyncpg's instrumentation. Otherwise nothing: spans no one exports
    are not recorded (the module's docstring). Leaves a provider already set (by a test)
    alone."""
    from opentelemetry.sdk.resources import Resource

    if recording() or not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"sanzheng-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    instrument_asyncpg()


def instrument_asyncpg() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
