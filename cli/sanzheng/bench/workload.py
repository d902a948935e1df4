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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer

from sanzheng.synthetic import ProvinceGenerator
from sanzheng_shared.kafka.topics import TopicNames

HEADERS = [("content-type", b"application/cloudevents+json")]


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes
    event_id: str
    student_id: str


def students(count: int, seed: int, topics: TopicNames) -> Iterator[list[Message]]:
    """One list of inbound messages per student, in the order a school would send them."""
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
        ]


def spool(count: int, seed: int, topics: TopicNames, only: set[str]) -> Path:
    """The messages for the `only` topics, generated now into a temporary file, so that
    publishing them later is only sending (never generating while a service is timed)."""
    handle, name = tempfile.mkstemp(prefix="sanzheng-bench-", suffix=".spool")
    with os.fdopen(handle, "wb") as out:
        for batch in students(count, seed, topics):
            chosen = [m for m in batch if m.topic in only]
            if chosen:
                pickle.dump(chosen, out)
    return Path(name)


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
        linger_ms=0 if rate else 10,
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
                        await asyncio.sleep(wait)
                now = time.time()
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
