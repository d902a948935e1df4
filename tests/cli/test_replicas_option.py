"""`sanzheng up --replicas N` / SANZHENG_REPLICAS: how many processes of each domain service
the supervisor starts, and what it calls them (the running system: tests/e2e/test_replicas.py)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from sanzheng import main, supervisor
from sanzheng.main import app
from sanzheng.supervisor import Infrastructure, ServiceProcess, System, describe
from sanzheng_shared.settings import Settings, get_settings


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`up` runs to the point where it would start the system; the replica counts it used."""
    counts: list[int] = []

    async def run_system(settings: Settings, **_: Any) -> int:
        counts.append(settings.replicas)
        return 0

    monkeypatch.setattr(supervisor, "run_system", run_system)
    # The command would point this process's logging at the runner's (then closed) stdout.
    monkeypatch.setattr(main, "configure_logging", lambda *_: None)
    monkeypatch.delenv("SANZHENG_REPLICAS", raising=False)
    get_settings.cache_clear()
    yield counts
    get_settings.cache_clear()


def _up(*args: str, **env: str) -> None:
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["up", "--quiet", *args], env=env)
    assert result.exit_code == 0, result.output


def test_replicas_default_to_one_and_come_from_the_environment_or_the_option(
    started: list[int],
) -> None:
    _up()
    _up(SANZHENG_REPLICAS="3")
    _up("--replicas", "2", SANZHENG_REPLICAS="3")
    assert started == [1, 3, 2]


def test_zero_replicas_is_refused(started: list[int]) -> None:
    result = CliRunner().invoke(app, ["up", "--replicas", "0"])
    assert result.exit_code == 2
    assert started == []


async def test_each_replica_of_a_domain_service_is_named_and_has_its_own_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def spawn(self: System, svc: ServiceProcess) -> None:
        pass

    monkeypatch.setattr(System, "_spawn", spawn)
    system = System(
        Settings(replicas=3, http_port=18600), Infrastructure("k:9092", "postgresql://")
    )
    await system.start()

    labels = [svc.label for svc in system.services]
    assert labels == [
        *(f"{name}#{n}" for name in supervisor.SERVICES[:-1] for n in (1, 2, 3)),
        "gateway",
    ]
    assert len({svc.port for svc in system.services}) == len(labels)
    lines = describe(system.infra, system.services)
    assert "certificates#2 http://127.0.0.1:18614" in lines  # the first one's port + 10
    assert "gateway   http://127.0.0.1:18600" in lines


async def test_one_replica_keeps_the_plain_names(monkeypatch: pytest.MonkeyPatch) -> None:
    async def spawn(self: System, svc: ServiceProcess) -> None:
        pass

    monkeypatch.setattr(System, "_spawn", spawn)
    system = System(Settings(http_port=18700), Infrastructure("k:9092", "postgresql://"))
    await system.start()
    assert [svc.label for svc in system.services] == list(supervisor.SERVICES)
