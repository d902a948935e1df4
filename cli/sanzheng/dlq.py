"""`sanzheng dlq list|show|redrive`: dead letters, inspected and re-driven (SPEC §5.1).

A dead letter is the original message, unchanged, on `<topic>.dlq`, with headers saying why
(`x-dlq-reason`), who (`x-dlq-consumer`) and where from (`x-original-topic`, `-partition`,
`-offset`). A re-drive publishes it again to its original topic with its key and its own
headers, plus `x-redriven-from` naming the dead letter; consumers de-duplicate CloudEvents
by (source, id), so re-driving a message twice has one effect.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from sanzheng_shared.kafka.topics import TopicNames

DLQ_HEADERS = (
    "x-dlq-reason",
    "x-dlq-consumer",
    "x-original-topic",
    "x-original-partition",
    "x-original-offset",
)
REDRIVEN_FROM = "x-redriven-from"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes | None], ...]

    @property
    def id(self) -> str:
        """How an operator names it: `<partition>:<offset>` in its DLQ topic."""
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        value = next((v for k, v in self.headers if k == name), None)
        return None if value is None else value.decode("utf-8", "replace")

    @property
    def reason(self) -> str:
        return self.header("x-dlq-reason") or "(no reason given)"

    @property
    def kind(self) -> str:
        """The reason without its details, to count alike dead letters together."""
        return self.reason.split(":", 1)[0]

    @property
    def original_topic(self) -> str | None:
        return self.header("x-original-topic")

    def redriven(self) -> tuple[tuple[str, bytes | None], ...]:
        """Its own headers, without the DLQ ones, and where it was re-driven from."""
        own = tuple((k, v) for k, v in self.headers if k not in (*DLQ_HEADERS, REDRIVEN_FROM))
        return (*own, (REDRIVEN_FROM, f"{self.topic}:{self.id}".encode()))


def dlq_topics(prefix: str = "") -> list[str]:
    return [t for t in TopicNames(prefix).all() if t.endswith(".dlq")]


async def read(bootstrap: str, topic: str, *, idle_ms: int = 700) -> list[DeadLetter]:
    """Every dead letter of a topic, oldest first per partition (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        # Read until the broker has nothing more (the embedded broker under-reports a
        # partition's end offset, so the end is found by an idle fetch, not by ListOffsets).
        while batch := await consumer.getmany(timeout_ms=idle_ms):
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return sorted(
        (
            DeadLetter(
                r.topic, r.partition, r.offset, r.key, r.value or b"", tuple(r.headers or ())
            )
            for r in records
        ),
        key=lambda d: (d.partition, d.offset),
    )


def count_by_reason(letters: list[DeadLetter]) -> list[tuple[str, str, int]]:
    """(original topic, kind of reason, count), the most frequent first."""
    counts = Counter((d.original_topic or "?", d.kind) for d in letters)
    return [(topic, kind, n) for (topic, kind), n in counts.most_common()]


def select(letters: list[DeadLetter], ids: list[str] | None) -> list[DeadLetter]:
    """The dead letters named by `ids` (all when None); an unknown id is an error."""
    if ids is None:
        return letters
    by_id = {d.id: d for d in letters}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise KeyError(", ".join(unknown))
    return [by_id[i] for i in ids]


async def redrive(bootstrap: str, letters: list[DeadLetter]) -> list[tuple[DeadLetter, str]]:
    """Publish each dead letter again to its original topic, in order, awaiting the acks."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=2 * 1024 * 1024
    )
    await producer.start()
    done: list[tuple[DeadLetter, str]] = []
    try:
        for letter in letters:
            target = letter.original_topic
            if not target:
                raise ValueError(f"{letter.id} has no x-original-topic header")
            await producer.send_and_wait(
                target, letter.value, key=letter.key, headers=list(letter.redriven())
            )
            done.append((letter, target))
    finally:
        await producer.stop()
    return done


def body_text(value: bytes, limit: int = 20_000) -> str:
    """The body for a terminal: pretty JSON, else text, else a byte literal."""
    import json

    try:
        return json.dumps(json.loads(value), ensure_ascii=False, indent=2)[:limit]
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    try:
        return value.decode()[:limit]
    except UnicodeDecodeError:
        return repr(value[:limit])
