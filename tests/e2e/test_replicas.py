"""Scale-out (issue 8): `sanzheng up --replicas 4` runs four processes of each domain service
with every school's own topics consumed beside the shared ones. Generated students' events,
shuffled, some sent twice, split across `sis.<domain>` and `sis.<domain>.<schoolid>`, end in
the decisions the independent oracle expects, whichever replica handled which event.

Four replicas do not divide the six partitions: one student's partitions of different topics
land on different replicas, and its events on a school's own topic are read by a second
consumer group. Only a per-student serialisation of the work keeps the decisions right.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from sanzheng.synthetic import ProvinceGenerator, Student
from sanzheng_shared.events.catalogue import GATEWAY_ONLY_TYPES
from sanzheng_shared.kafka.topics import DOMAINS, TopicNames, ensure_topics
from sanzheng_shared.testing import create_database, drop_database, eventually, fetch
from tests.e2e.conftest import wait_quiet
from tests.e2e.test_up import RunningSystem
from tests.oracle import expected_missing

pytestmark = pytest.mark.slow

REPLICAS = 4
PARTITIONS = 6
STUDENTS = 300
DUPLICATES = 0.10  # share of the events sent twice
SCHOOL_TOPIC_SHARE = 0.5  # share of the events sent to the school's own topic
SEED = 8
# Small batches: more transactions at once, so more chances for two of them to touch one
# student (on the engine without per-student serialisation, 300 students end with about 16
# wrong decisions at 50 records a batch, 2 to 8 at the default 500).
MAX_RECORDS = 50


@dataclass
class Loaded:
    system: RunningSystem
    database_url: str
    topics: TopicNames
    bootstrap: str
    students: list[Student]
    expected: dict[str, set[str]]
    sent: list[tuple[str, dict[str, Any]]]

    def url(self, label: str) -> str:
        return self.system.address(label)


def _sends(students: list[Student], topics: TopicNames) -> list[tuple[str, dict[str, Any]]]:
    """(topic, event) in shuffled order: each event on the shared topic or on its school's
    own, a tenth of them twice (the copy on either topic)."""
    rng = random.Random(SEED)

    def topic(domain: str, school: str, type_: str) -> str:
        own = rng.random() < SCHOOL_TOPIC_SHARE
        # Waivers are the gateway's, on the shared topic: a school's own topic refuses them.
        return topics.inbound(domain, school if own and type_ not in GATEWAY_ONLY_TYPES else None)

    sends = []
    for student in students:
        for sub in student.submissions:
            copies = 2 if rng.random() < DUPLICATES else 1
            sends += [
                (topic(sub.domain, student.school_id, sub.event["type"]), sub.event)
                for _ in range(copies)
            ]
    rng.shuffle(sends)
    return sends


async def _publish(bootstrap: str, sends: list[tuple[str, dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        acks = [
            await producer.send(
                topic,
                json.dumps(event, ensure_ascii=False).encode(),
                key=event["subject"].encode(),
                headers=[("content-type", b"application/cloudevents+json")],
            )
            for topic, event in sends
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def schools() -> list[str]:
    return ProvinceGenerator().schools


@pytest.fixture(scope="module")
async def database(admin_database_url: str) -> AsyncIterator[str]:
    name, url = await create_database(admin_database_url)
    yield url
    await drop_database(admin_database_url, name)


@pytest.fixture(scope="module")
def topics() -> TopicNames:
    return TopicNames(f"t{uuid.uuid4().hex[:8]}.")


@pytest.fixture(scope="module")
async def system(
    tmp_path_factory: pytest.TempPathFactory,
    kafka_bootstrap: str,
    database: str,
    topics: TopicNames,
    schools: list[str],
) -> AsyncIterator[RunningSystem]:
    # Operators create each school's topics (with its ACLs) before the school publishes; the
    # services find them by pattern when they subscribe.
    await ensure_topics(
        kafka_bootstrap,
        [topics.inbound(d, school) for d in DOMAINS for school in schools],
        PARTITIONS,
    )
    running = RunningSystem(
        tmp_path_factory.mktemp("replicas"),
        "--replicas",
        str(REPLICAS),
        SANZHENG_KAFKA_BOOTSTRAP=kafka_bootstrap,
        SANZHENG_DATABASE_URL=database,
        SANZHENG_TOPIC_PREFIX=topics.prefix,
        SANZHENG_TOPIC_PARTITIONS=str(PARTITIONS),
        SANZHENG_SCHOOL_TOPICS="true",
        SANZHENG_OUTBOX_POLL_SECONDS="0.2",
        SANZHENG_CONSUMER_MAX_RECORDS=str(MAX_RECORDS),
    )
    try:
        await asyncio.to_thread(running.wait_for_line, "ready", 400)
        yield running
    finally:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGTERM)
            running.process.wait(180)


@pytest.fixture(scope="module")
async def loaded(
    system: RunningSystem, kafka_bootstrap: str, database: str, topics: TopicNames
) -> Loaded:
    """Every student's events published and applied, and nothing left moving."""
    students = list(ProvinceGenerator(seed=SEED, id_prefix="R").students(STUDENTS))
    sent = _sends(students, topics)
    await _publish(kafka_bootstrap, sent)
    await wait_quiet(database, [event for _, event in sent], timeout=300)
    expected = {
        s.student_id: expected_missing([sub.event for sub in s.submissions]) for s in students
    }
    return Loaded(system, database, topics, kafka_bootstrap, students, expected, sent)


def _wrong(
    expected: dict[str, set[str]], actual: dict[str, set[str]]
) -> dict[str, tuple[set[str], set[str] | None]]:
    return {
        sid: (want, actual.get(sid)) for sid, want in expected.items() if actual.get(sid) != want
    }


def _explain(wrong: dict[str, tuple[set[str], set[str] | None]], of: int) -> str:
    """How many students end wrong, and which requirement is wrong how often."""
    kinds: Counter[str] = Counter()
    for want, got in wrong.values():
        if got is None:
            kinds["no decision"] += 1
            continue
        kinds.update(f"{code} wrongly missing" for code in got - want)
        kinds.update(f"{code} wrongly met" for code in want - got)
    sample = [f"{sid}: oracle {sorted(w)}, got {g and sorted(g)}" for sid, (w, g) in wrong.items()]
    return f"{len(wrong)} of {of} students end with a wrong decision ({dict(kinds)}); " + "; ".join(
        sample[:5]
    )


async def _settled_wrong(loaded: Loaded, probe: Any) -> dict[str, tuple[set[str], set[str] | None]]:
    """The students whose decision differs from the oracle, once it stopped changing toward it
    (a bounded wait: a right system gets there in seconds, a wrong one never does)."""
    last: list[dict[str, Any]] = [{}]

    async def check() -> dict[str, Any]:
        last[0] = _wrong(loaded.expected, await probe())
        return last[0]

    try:
        await eventually(check, lambda wrong: not wrong, timeout=20, interval=1)
    except AssertionError:
        pass
    return last[0]


def test_every_replica_is_named_with_its_own_port(system: RunningSystem) -> None:
    ports = set()
    for service in ("enrollment", "internship", "labor-education", "certificates"):
        for n in range(1, REPLICAS + 1):
            url = system.address(f"{service}#{n}")
            assert httpx.get(url + "/healthz", timeout=5).json()["service"] == service
            ports.add(url)
    assert len(ports) == 4 * REPLICAS
    assert system.address("gateway").startswith("http://127.0.0.1:")
    assert not any(line.startswith("gateway#") for line in system.lines)
    # Each replica's log lines say which replica wrote them.
    assert any(
        line.startswith(f"certificates#{REPLICAS} ") and " | " in line for line in system.lines
    )


async def test_every_decision_is_the_oracles(loaded: Loaded) -> None:
    async def decisions() -> dict[str, set[str]]:
        rows = await fetch(
            loaded.database_url,
            "SELECT student_id, requirements FROM certificates.decisions"
            " WHERE student_id = ANY($1::text[])",
            list(loaded.expected),
        )
        return {
            r["student_id"]: {q["code"] for q in json.loads(r["requirements"]) if not q["met"]}
            for r in rows
        }

    wrong = await _settled_wrong(loaded, decisions)
    assert not wrong, _explain(wrong, len(loaded.expected))
    eligible = sum(1 for missing in loaded.expected.values() if not missing)
    assert 0 < eligible < len(loaded.expected), "the mix must hold eligible and missing students"


async def test_the_gateway_answers_the_oracles_decision(loaded: Loaded, schools: list[str]) -> None:
    from sanzheng import tokens_cli
    from sanzheng_gateway import tokens

    conn = await tokens_cli.with_gateway_schema(loaded.database_url)
    try:
        token = await tokens.create(conn, "bureau", None, "test_replicas")
    finally:
        await conn.close()

    async def listed() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        async with httpx.AsyncClient(
            base_url=loaded.url("gateway"), headers={"Authorization": f"Bearer {token}"}
        ) as client:
            for school in schools:
                page = 1
                while True:
                    answer = await client.get(
                        f"/v1/schools/{school}/graduation",
                        params={"page": page, "page_size": 500},
                    )
                    assert answer.status_code == 200, answer.text
                    body = answer.json()
                    found |= {s["student_id"]: set(s["missing"]) for s in body["students"]}
                    if page * 500 >= body["total"]:
                        break
                    page += 1
        return {sid: missing for sid, missing in found.items() if sid in loaded.expected}

    wrong = await _settled_wrong(loaded, listed)
    assert not wrong, _explain(wrong, len(loaded.expected))


def _metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


async def test_every_replica_took_a_share_of_the_work(loaded: Loaded) -> None:
    for service in ("enrollment", "internship", "labor-education", "certificates"):
        handled = {
            n: _metric(loaded.url(f"{service}#{n}"), "sanzheng_events_total{")
            for n in range(1, REPLICAS + 1)
        }
        assert all(count > 0 for count in handled.values()), (service, handled)


def _child_serving(parent: int, port: int) -> int:
    """The pid of the supervisor's child whose health port is `port`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"SANZHENG_SERVICE_HTTP_PORT={port}".encode() in environ:
            return int(entry.name)
    raise AssertionError(f"no child of {parent} serves port {port}")


async def test_a_killed_replica_alone_is_restarted_and_the_system_still_decides(
    loaded: Loaded,
) -> None:
    victim = "certificates#3"
    url = loaded.url(victim)
    pid = _child_serving(loaded.system.process.pid, int(url.rsplit(":", 1)[1]))
    os.kill(pid, signal.SIGKILL)

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(url + "/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def restarts() -> list[str]:
        return [line for line in loaded.system.lines if " | exited with code" in line]

    [restart] = await eventually(restarts, timeout=30)
    assert restart.startswith(f"{victim} ")
    assert restart.endswith("| exited with code -9; restarting in 2s")
    await eventually(ready, timeout=120, interval=0.5)
    assert await restarts() == [restart], "no other replica restarted"
    assert _child_serving(loaded.system.process.pid, int(url.rsplit(":", 1)[1])) != pid

    # The group rebalanced around the restarted replica and still decides new students.
    student = ProvinceGenerator(seed=SEED + 1, id_prefix=f"K{uuid.uuid4().hex[:6]}").student(
        0, "complete"
    )
    await _publish(
        loaded.bootstrap,
        [(loaded.topics.inbound(sub.domain), sub.event) for sub in student.submissions],
    )
    expected = expected_missing([sub.event for sub in student.submissions])
    await eventually(
        lambda: fetch(
            loaded.database_url,
            "SELECT requirements FROM certificates.decisions WHERE student_id = $1",
            student.student_id,
        ),
        lambda rows: (
            bool(rows)
            and {q["code"] for q in json.loads(rows[0]["requirements"]) if not q["met"]} == expected
        ),
        timeout=120,
    )
