"""Each service's log of the inbound events it accepted, written in the batch's transaction
(SPEC §4.4): the projection can be dropped and rebuilt from it, without the broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sanzheng_shared.events.binary import kafka_structured
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.events.sealing import FIELD, sealer


@dataclass(frozen=True)
class LoggedRecord:
    """What the fold needs of a Kafka record; a replay rebuilds it from the log."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


async def append(conn: Any, batch_id: str, items: Sequence[tuple[Any, CloudEvent]]) -> None:
    """One statement for the batch, in fold order."""
    if not items:
        return
    await conn.execute(
        'INSERT INTO event_log (batch_id, topic, partition, "offset", broker_ts, source, id,'
        " student_id, school_id, type, value)"
        " SELECT $1::uuid, t, p, o, ts, s, i, st, sc, ty, v FROM unnest($2::text[], $3::int[],"
        " $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],"
        " $10::text[], $11::bytea[]) WITH ORDINALITY AS x(t, p, o, ts, s, i, st, sc, ty, v, n)"
        " ORDER BY n",
        batch_id,
        [r.topic for r, _ in items],
        [r.partition for r, _ in items],
        [r.offset for r, _ in items],
        [r.timestamp for r, _ in items],
        [e.source for _, e in items],
        [e.id for _, e in items],
        [e.subject for _, e in items],
        [e.schoolid for _, e in items],
        [e.type for _, e in items],
        _stored_values(items),
    )


def _stored_values(items: Sequence[tuple[Any, CloudEvent]]) -> list[bytes]:
    """The structured form, so that a replay (which has no headers) reads binary-mode records
    as it reads structured ones; a national id in it sealed (SPEC §8)."""
    values = [kafka_structured(r.headers, r.value) for r, _ in items]
    carrying = [i for i, (_, e) in enumerate(items) if isinstance(e.data, dict) and FIELD in e.data]
    if carrying:
        seal = sealer().seal
        for i in carrying:
            values[i] = seal(values[i], items[i][1].data)
    return values


async def batches(
    conn: Any, where: str = "true", args: Sequence[Any] = (), chunk: int = 5000
) -> AsyncIterator[list[LoggedRecord]]:
    """The log's batches in order (as they were folded), read with a cursor."""
    current: list[LoggedRecord] = []
    current_id = None
    unseal = sealer().unseal
    async for row in conn.cursor(
        'SELECT batch_id, topic, partition, "offset", broker_ts, value, student_id'
        f" FROM event_log WHERE {where} ORDER BY seq",
        *args,
        prefetch=chunk,
    ):
        if row["batch_id"] != current_id and current:
            yield current
            current = []
        current_id = row["batch_id"]
        current.append(
            LoggedRecord(
                row["topic"],
                row["partition"],
                row["offset"],
                row["broker_ts"],
                unseal(bytes(row["value"])),
                row["student_id"].encode() if row["student_id"] else None,
            )
        )
    if current:
        yield current


async def count(conn: Any, where: str = "true", args: Sequence[Any] = ()) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM event_log WHERE {where}", *args))
