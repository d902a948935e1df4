"""Services on the embedded broker ask for a short fetch wait (sanzheng/embedded.py: Tansu
answers a fetch only when its wait ends, so Kafka's 500 ms delayed every hop of an event);
on an external Kafka they keep Kafka's default, and a value the operator set always wins."""

from __future__ import annotations

import pytest

from sanzheng.embedded import EMBEDDED_FETCH_MAX_WAIT_MS, EmbeddedBroker
from sanzheng.supervisor import Infrastructure, ServiceProcess, System
from sanzheng_enrollment.app import SPEC
from sanzheng_shared.service import ServiceRuntime
from sanzheng_shared.settings import Settings

SETTING = "SANZHENG_KAFKA_FETCH_MAX_WAIT_MS"


def _env(*, embedded: bool) -> dict[str, str]:
    broker = EmbeddedBroker(process=None, bootstrap="127.0.0.1:9092") if embedded else None  # type: ignore[arg-type]
    infra = Infrastructure("127.0.0.1:9092", "postgresql://db/x", broker=broker)
    return System(Settings(), infra).env_for(ServiceProcess("credits", 8101))


def test_a_service_on_the_embedded_broker_asks_for_the_short_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SETTING, raising=False)
    assert _env(embedded=True)[SETTING] == str(EMBEDDED_FETCH_MAX_WAIT_MS)
    assert Settings().kafka_fetch_max_wait_ms == 500  # Kafka's own, on an external broker
    assert SETTING not in _env(embedded=False)


def test_a_wait_the_operator_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "40")
    assert _env(embedded=True)[SETTING] == "40"
    assert Settings().kafka_fetch_max_wait_ms == 40


def test_a_service_consumes_with_the_wait_of_its_settings() -> None:
    runtime = ServiceRuntime(SPEC, Settings(kafka_fetch_max_wait_ms=123))
    assert runtime.subscriber._connection_args["fetch_max_wait_ms"] == 123
