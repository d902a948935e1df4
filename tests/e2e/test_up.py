"""`sanzheng up` on the embedded default, driven by a librdkafka client as a school's SIS would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from sanzheng.embedded import free_port
from sanzheng_shared.testing import enrolled

pytestmark = pytest.mark.slow


class RunningSystem:
    """`sanzheng up [args]` in a child process, its output collected line by line."""

    def __init__(self, data_dir: Path, *args: str, **settings: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANZHENG_")}
        env.update(SANZHENG_DATA_DIR=str(data_dir), SANZHENG_HTTP_PORT=str(free_port(18000)))
        env.update(settings)
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "sanzheng"), "up", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith(text) and " | " not in line:  # not a service's log line
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line {text!r}; output:\n" + "\n".join(self.lines[-40:]))

    def address(self, name: str) -> str:
        return self.wait_for_line(name + " ").split()[1]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    running = RunningSystem(tmp_path_factory.mktemp("up"))
    try:
        running.wait_for_line("ready")
        yield running
    finally:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGTERM)
            running.process.wait(120)


def _first_event(bootstrap: str, topic: str, subject: str, timeout: float) -> dict | None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"probe-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            event = json.loads(message.value())
            if event.get("subject") == subject:
                event["_headers"] = dict(message.headers() or [])
                return event
        return None
    finally:
        consumer.close()


def test_up_prints_its_addresses_then_ready(system: RunningSystem) -> None:
    assert system.address("kafka")
    assert system.address("postgres").startswith("postgresql://")
    for service in ("enrollment", "internship", "labor-education", "certificates", "gateway"):
        assert system.address(service).startswith("http://127.0.0.1:")


def test_an_enrollment_from_librdkafka_appears_on_enrollment_events_within_5s(system) -> None:
    bootstrap = system.address("kafka")
    event = enrolled(f"STU-RD-{uuid.uuid4().hex[:6]}", national_id="110105200805011233")
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(
        "sis.enrollment",
        key=event["subject"],
        value=json.dumps(event).encode(),
        headers={"content-type": "application/cloudevents+json"},
    )
    assert producer.flush(10) == 0
    published = time.monotonic()

    canonical = _first_event(bootstrap, "enrollment.events", event["subject"], timeout=5)
    assert canonical is not None, "no canonical event within 5 s"
    assert time.monotonic() - published < 5
    assert canonical["type"] == "student.enrolled"
    assert canonical["source"] == "sanzheng/enrollment"
    assert canonical["_headers"]["content-type"] == b"application/cloudevents+json"
    assert "national_id" not in canonical["data"]


def test_a_rejection_is_readable_by_librdkafka(system) -> None:
    bootstrap = system.address("kafka")
    event = enrolled(f"STU-RJ-{uuid.uuid4().hex[:6]}", cohort="next year")
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce("sis.enrollment", key=event["subject"], value=json.dumps(event).encode())
    producer.flush(10)
    rejection = _first_event(bootstrap, "sis.rejections", event["subject"], timeout=15)
    assert rejection is not None
    assert rejection["data"]["reasons"][0]["field"] == "cohort"
    assert rejection["data"]["reasons"][0]["code"] == "DATA_INVALID"


def _service_pid(supervisor_pid: int, module: str) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            module.encode() in argv
            and f"SANZHENG_SUPERVISOR_PID={supervisor_pid}".encode() in environ
        ):
            return int(entry.name)
    raise AssertionError(f"no process runs {module}")


def test_a_service_whose_port_was_taken_while_it_was_away_comes_back_on_another(
    system,
) -> None:
    """Before, the service was restarted on its port again and again, failing to bind each
    time, for as long as the other process held it."""
    import httpx

    url = system.address("labor-education")
    port = int(url.rsplit(":", 1)[1])
    os.kill(_service_pid(system.process.pid, "sanzheng_labor_education"), signal.SIGKILL)
    taken = socket.socket()
    deadline = time.monotonic() + 10
    while True:  # the killed process's listening socket is gone once the kernel reaps it
        try:
            taken.bind(("127.0.0.1", port))
            break
        except OSError:
            assert time.monotonic() < deadline, f"port {port} stayed bound"
            time.sleep(0.05)
    taken.listen()
    try:
        moved = f"port {port} is taken by another process; restarting on "
        deadline = time.monotonic() + 60
        line = None
        while line is None and time.monotonic() < deadline:
            line = next((x for x in system.lines if moved in x), None)
            time.sleep(0.1)
        assert line is not None, "\n".join(system.lines[-30:])
        new_port = int(line.split(moved, 1)[1].split()[0])
        assert new_port != port
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{new_port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "\n".join(system.lines[-30:])
            time.sleep(0.5)
        assert not any("address already in use" in x for x in system.lines)
    finally:
        taken.close()


def test_sigterm_stops_everything_cleanly(system) -> None:
    kafka_port = int(system.address("kafka").rsplit(":", 1)[1])
    system.process.send_signal(signal.SIGTERM)
    assert system.process.wait(120) == 0
    system._reader.join(5)
    assert system.lines[-1] == "stopped"
    from sanzheng.supervisor import SERVICES

    # Every service, the gateway included, said it stopped.
    assert sum("service_stopped" in line for line in system.lines) == len(SERVICES)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", kafka_port), timeout=1):
        pass
