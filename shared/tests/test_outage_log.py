"""A broker outage is logged as: the first connection error, a summary every 30 s, the
recovery — not as the dozens of lines a second aiokafka repeats."""

from __future__ import annotations

import logging

from sanzheng_shared.connectivity import BrokerOutageLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), None)


def test_sixty_seconds_of_connection_errors_make_four_lines_not_2402() -> None:
    clock = Clock()
    outage = BrokerOutageLog(clock=clock)
    shown: list[str] = []
    for tick in range(1201):  # 2 lines, 20 times a second, for 60 s
        clock.now = 1000.0 + tick / 20
        for msg in (
            "Unable connect to node with id 111: Connect call failed",
            "Unable to update metadata from [111]",
        ):
            record = _record(msg)
            if outage.filter(record):
                shown.append(record.getMessage())
    assert shown[0].startswith("Unable connect to node")
    assert shown[1:] == [
        "broker unreachable for 30 s, 1,201 attempts (connection errors are summarised every 30 s)",
        "broker unreachable for 60 s, 2,401 attempts (connection errors are summarised every 30 s)",
    ]
    assert outage.recovered() == "broker reachable again after 60 s, 2,402 attempts"
    assert outage.recovered() is None  # once


def test_other_lines_pass_and_a_new_outage_starts_afresh() -> None:
    clock = Clock()
    outage = BrokerOutageLog(clock=clock)
    assert outage.filter(_record("partitions_assigned"))
    assert outage.filter(_record("Unable connect to node with id 1"))
    assert not outage.filter(_record("Unable connect to node with id 1"))
    assert outage.filter(_record("a batch was applied"))
    outage.recovered()
    assert outage.filter(_record("Unable connect to node with id 1"))


def test_our_own_structlog_lines_are_summarised_with_the_same_count() -> None:
    clock = Clock()
    outage = BrokerOutageLog(clock=clock)
    first = {"event": "outbox_relay_retry", "error": "KafkaConnectionError('closed')"}
    assert outage(None, "warning", dict(first)) == first
    import pytest
    import structlog

    with pytest.raises(structlog.DropEvent):
        outage(None, "warning", dict(first))
    clock.now += 31
    summary = outage(None, "warning", dict(first))
    assert summary["event"].startswith("broker unreachable for 31 s, 3 attempts")
    assert "error" not in summary
    assert outage(None, "info", {"event": "KafkaConnectionError"}) == {
        "event": "KafkaConnectionError"
    }
