"""De-duplication on (source, id) and partition offsets, kept beside the projection.

Without an idempotent producer a retried publish lands at a new offset, so offsets alone
cannot tell a duplicate: the event's (source, id) does (STYLE.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TopicPartitionKey = tuple[str, int]


async def claim_new(
    conn: Any, consumer: str, keys: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Record the keys as applied; return only those that had not been applied before."""
    keys = list(keys)
    if not keys:
        return set()
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, source, id)"
        " SELECT $1, s, i FROM unnest($2::text[], $3::text[]) AS k(s, i)"
        " ON CONFLICT DO NOTHING RETURNING source, id",
        consumer,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["source"], r["id"]) for r in rows}


async def mark_dead_lettered(
    conn: Any, consumer: str, dead: list[tuple[tuple[str, str], str]]
) -> None:
    """Keep a dead letter's inbox row, marked: a later re-read must not apply it late."""
    if not dead:
        return
    await conn.execute(
        "UPDATE inbox SET dead_lettered_at = now(), reason = d.r"
        " FROM unnest($2::text[], $3::text[], $4::text[]) AS d(s, i, r)"
        " WHERE consumer = $1 AND source = d.s AND id = d.i",
        consumer,
        [k[0] for k, _ in dead],
        [k[1] for k, _ in dead],
        [r[:1000] for _, r in dead],
    )


async def allow_redrive(conn: Any, consumer: str, keys: list[tuple[str, str]]) -> None:
    """Clear dead letters' inbox rows for their re-driven copies (`sanzheng dlq redrive`
    marks them), so that those are applied, once. A plain re-read of the original record
    finds the marked row and stays a duplicate."""
    if not keys:
        return
    await conn.execute(
        "DELETE FROM inbox USING unnest($2::text[], $3::text[]) AS k(s, i)"
        " WHERE consumer = $1 AND source = k.s AND id = k.i AND dead_lettered_at IS NOT NULL",
        consumer,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )


async def save_offsets(
    conn: Any, consumer: str, positions: Mapping[TopicPartitionKey, tuple[int, int | None]]
) -> None:
    """Store (next offset, timestamp of the record before it) per partition."""
    if not positions:
        return
    items = sorted(positions.items())
    # The guard keeps a stale, slower replica from moving a partition backwards.
    await conn.execute(
        "INSERT INTO consumer_offsets AS o"
        " (consumer, topic, partition, next_offset, last_timestamp)"
        " SELECT $1, t, p, n, ts"
        " FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS x(t, p, n, ts)"
        " ON CONFLICT (consumer, topic, partition) DO UPDATE"
        " SET next_offset = excluded.next_offset, last_timestamp = excluded.last_timestamp,"
        " updated_at = now()"
        " WHERE o.next_offset < excluded.next_offset",
        consumer,
        [tp[0] for tp, _ in items],
        [tp[1] for tp, _ in items],
        [pos[0] for _, pos in items],
        [pos[1] for _, pos in items],
    )


async def load_offsets(conn: Any, consumer: str) -> dict[TopicPartitionKey, tuple[int, int | None]]:
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset, last_timestamp FROM consumer_offsets"
        " WHERE consumer = $1",
        consumer,
    )
    return {(r["topic"], r["partition"]): (r["next_offset"], r["last_timestamp"]) for r in rows}


async def reset_offset(conn: Any, consumer: str, tp: TopicPartitionKey) -> None:
    """Forget a partition's position: only when the broker lost the history it pointed into."""
    await conn.execute(
        "DELETE FROM consumer_offsets WHERE consumer = $1 AND topic = $2 AND partition = $3",
        consumer,
        tp[0],
        tp[1],
    )
