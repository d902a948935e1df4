"""The bench's workload: a synthetic province streamed student by student, never held whole.

The same seed gives the same events, so every stage can regenerate them instead of keeping
them; `publish` sends them as fast as the broker takes them, or at a fixed offered rate.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer

from sanzheng.synthetic import ProvinceGenerator
from sanzheng_shared.kafka.topics import DOMAINS, TopicNames

HEADERS = [("content-type", b"application/cloudevents+json")]

PACED_LINGER_S = 0.005
"""At a fixed rate, what a school's producer waits to gather messages into one request:
the default `linger.ms` of librdkafka and of Apache Kafka's own client since 4.0. Sending
each event alone, 1,000 requests a second, made the bench's publisher and the broker spend
a third of a core each on requests no real producer sends."""


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes
    event_id: str
    student_id: str


ORDERS = ("student", "enrollment-first")
"""How the end-to-end and latency stages send the province:

- `student`: each student's whole record at once, student after student. Most of a
  student's submissions then reach their services before the enrollment they depend on
  has come through the enrollment service, and are held and released (SPEC 4.3): the
  worst case of the any-order machinery.
- `enrollment-first`: every student's enrollment, then, once the system is quiet, the
  rest student by student: a province's steady state, where students are enrolled months
  before their courses, internships and certificates arrive."""


def students(
    count: int, seed: int, topics: TopicNames, *, domains: Container[str] | None = None
) -> Iterator[list[Message]]:
    """One list of inbound messages per student, in the order a school would send them;
    with `domains`, only the messages of those domains (a student may then have none)."""
    for student in ProvinceGenerator(seed=seed).students(count):
        key = student.student_id.encode()
        yield [
            Message(
                topics.inbound(sub.domain),
                key,
                json.dumps(sub.event, ensure_ascii=False).encode(),
                sub.event["id"],
                student.student_id,
            )
            for sub in student.submissions
            if domains is None or sub.domain in domains
        ]


ALL_BUT_ENROLLMENT = frozenset(DOMAINS) - {"enrollment"}


def students_for(events: int, seed: int, topics: TopicNames) -> int:
    """How many students `publish(..., max_events=events)` sends: it stops at the first
    student boundary at or past `events`."""
    sent = count = 0
    for batch in students(10**9, seed, topics):
        if sent >= events:
            break
        sent += len(batch)
        count += 1
    return count


def ahead(stream: Iterator[list[Message]], max_events: int | None) -> Path:
    """The batches `publish(stream, max_events=...)` would send, generated now into a spool
    (read back with `spooled`): at a fixed rate the generator's work would otherwise share
    the machine with the system measured, and a file keeps memory flat at any rate."""
    handle, name = tempfile.mkstemp(prefix="sanzheng-bench-", suffix=".spool")
    sent = 0
    try:
        with os.fdopen(handle, "wb") as out:
            for batch in stream:
                if max_events is not None and sent >= max_events:
                    break
                pickle.dump(batch, out)
                sent += len(batch)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def spool(count: int, seed: int, topics: TopicNames, only: set[str]) -> Path:
    """The messages for the `only` topics, generated now into a temporary file, so that
    publishing them later is only sending (never generating while a service is timed)."""
    chosen = ([m for m in batch if m.topic in only] for batch in students(count, seed, topics))
    return ahead((batch for batch in chosen if batch), None)


def spooled(path: Path) -> Iterator[list[Message]]:
    """Read a spool back, a student at a time, and delete it once read."""
    try:
        with path.open("rb") as source:
            while True:
                try:
                    yield pickle.load(source)  # our own file, just written
                except EOFError:
                    return
    finally:
        path.unlink(missing_ok=True)


@dataclass
class Published:
    per_topic: Counter[str] = field(default_factory=Counter)
    first_at: float = 0.0
    """time.time() of the first send."""
    last_at: float = 0.0
    students: int = 0

    @property
    def total(self) -> int:
        return sum(self.per_topic.values())

    def then(self, later: Published) -> Published:
        """This publish and a later one of the same students, as one."""
        return Published(
            self.per_topic + later.per_topic,
            self.first_at or later.first_at,
            later.last_at or self.last_at,
            max(self.students, later.students),
        )


async def publish(
    bootstrap: str,
    stream: Iterator[list[Message]],
    *,
    rate: float | None = None,
    max_events: int | None = None,
    on_student: Callable[[int], None] = lambda _n: None,
    on_send: Callable[[Message, float], None] | None = None,
) -> Published:
    """Send every student's messages, keyed by student. With `rate`, message i leaves at
    `first + i / rate` (events per second offered); `max_events` stops at a student boundary
    once that many were sent. `on_send(message, time.time())` is called just before a send."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=round(PACED_LINGER_S * 1000) if rate else 10,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    out = Published()
    pending: list[asyncio.Future[object]] = []
    start = time.monotonic()
    try:
        for batch in stream:
            if max_events is not None and out.total >= max_events:
                break
            for message in batch:
                if rate:
                    due = start + out.total / rate
                    if (wait := due - time.monotonic()) > 0:
                        # Every message due by the time it wakes leaves together; each is
                        # timed from when it was due (below), the producer's linger after.
                        await asyncio.sleep(max(wait, PACED_LINGER_S))
                now = time.time()
                if rate:
                    # Held past its due time to leave with others: timed from when it was due.
                    now -= min(PACED_LINGER_S, max(0.0, time.monotonic() - due))
                if not out.first_at:
                    out.first_at = now
                if on_send is not None:
                    on_send(message, now)
                pending.append(
                    await producer.send(
                        message.topic, message.value, key=message.key, headers=HEADERS
                    )
                )
                out.per_topic[message.topic] += 1
            out.students += 1
            on_student(1)
            if len(pending) >= 5_000:  # surface broker errors, keep memory flat
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
        out.last_at = time.time()
    finally:
        await producer.stop()
    return out
