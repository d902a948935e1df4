"""The trace context a derived event carries when no span is recorded (no exporter)."""

from __future__ import annotations

from sanzheng_shared.tracing import _unrecorded_child

SCHOOL = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_derived_event_stays_in_its_causes_trace_under_a_span_of_its_own() -> None:
    child = _unrecorded_child({"traceparent": SCHOOL, "tracestate": "school=1"})
    version, trace_id, span_id, flags = child["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "0af7651916cd43dd8448eb211c80319c", "01")
    assert len(span_id) == 16 and span_id != "b7ad6b7169203331"
    assert child["tracestate"] == "school=1"


def test_an_event_without_a_trace_starts_one_that_says_it_is_not_recorded() -> None:
    for own in ({}, {"traceparent": "garbage"}):
        child = _unrecorded_child(own)
        version, trace_id, span_id, flags = child["traceparent"].split("-")
        assert (version, flags, len(trace_id), len(span_id)) == ("00", "00", 32, 16)
        assert "tracestate" not in child
    first, second = _unrecorded_child({}), _unrecorded_child({})
    assert first["traceparent"].split("-")[1] != second["traceparent"].split("-")[1]
