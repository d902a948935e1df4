"""Without an exporter no span is recorded: what a service derives carries its cause's
trace context unchanged."""

from __future__ import annotations

import pytest

from sanzheng_shared import tracing
from sanzheng_shared.events.envelope import CloudEvent

SCHOOL = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def event(**extra: str) -> CloudEvent:
    return CloudEvent.model_validate(
        {"specversion": "1.0", "id": "e1", "source": "sis/SCH001", "type": "student.enrolled"}
        | extra
    )


def test_a_derived_event_stays_in_the_schools_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "recording", lambda: False)
    with tracing.event_span("x", event(traceparent=SCHOOL, tracestate="s=1")) as context:
        assert context == {"traceparent": SCHOOL, "tracestate": "s=1"}
    with tracing.event_span("x", event()) as context:
        assert context == {}  # none invented: the same event derives the same event
