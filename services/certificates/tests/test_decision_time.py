"""A student's decisions are strictly ordered in time, so that whoever reads the decision
history (the school's trend chart, statistics `as_of` a day) finds one latest decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sanzheng_certificates.decisions import decision_time

STAMP_MS = 1_780_000_000_123


def test_a_decision_is_dated_when_the_broker_received_its_newest_event() -> None:
    assert decision_time(None, STAMP_MS) == datetime.fromtimestamp(STAMP_MS / 1000, UTC)


def test_two_decisions_from_events_stamped_in_one_millisecond_are_not_a_tie() -> None:
    first = decision_time(None, STAMP_MS)
    second = decision_time({"decided_at": first}, STAMP_MS)
    third = decision_time({"decided_at": second}, STAMP_MS)
    assert first < second < third
    assert third - first == timedelta(microseconds=2)


def test_a_decision_never_goes_back_before_the_previous_one() -> None:
    later = datetime.fromtimestamp(STAMP_MS / 1000, UTC) + timedelta(seconds=5)
    assert decision_time({"decided_at": later}, STAMP_MS) > later


def test_a_newer_event_dates_the_decision_by_its_own_stamp() -> None:
    earlier = datetime.fromtimestamp(STAMP_MS / 1000, UTC) - timedelta(seconds=5)
    assert decision_time({"decided_at": earlier}, STAMP_MS) == datetime.fromtimestamp(
        STAMP_MS / 1000, UTC
    )
