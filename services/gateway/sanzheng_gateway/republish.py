"""What the gateway accepted over HTTP survives a broker that restarts empty.

The broker probe reports the Kafka cluster id; the embedded broker gets a new one at every
start (a production cluster keeps its id). When the id differs from the one the gateway last
published to, every event accepted within `SANZHENG_INGEST_RETENTION_HOURS` goes to the
outbox again, in acceptance order: the services de-duplicate by (source, id), so what they
had applied already changes nothing, and what the old broker lost is applied now.

Why a retention window and not a marker from the services' committed offsets: the Kafka
offsets are what an empty broker forgets, and the offsets in PostgreSQL live in the other
services' schemas (decision 0004: a service reads only its own). A window re-sends more than
needed, which costs a duplicate check per event, and needs no knowledge of the consumers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sanzheng_shared.db.pool import connection
from sanzheng_shared.events.envelope import CONTENT_TYPE
from sanzheng_shared.events.sealing import sealer
from sanzheng_shared.logging import get_logger
from sanzheng_shared.outbox import OutboxMessage, write_outbox

log = get_logger(__name__)
PRUNE_EVERY_SECONDS = 600.0


async def on_cluster(conn: Any, cluster_id: str, retention_hours: float) -> int | None:
    """Record the broker the gateway sees; returns how many events were queued again when it
    is another broker than the last one, None when it is the same (or the first)."""
    async with conn.transaction():
        known = await conn.fetchval("SELECT cluster_id FROM broker_epoch FOR UPDATE")
        if known == cluster_id:
            return None
        await conn.execute(
            "INSERT INTO broker_epoch (cluster_id) VALUES ($1) ON CONFLICT (singleton)"
            " DO UPDATE SET cluster_id = excluded.cluster_id, since = now()",
            cluster_id,
        )
        if known is None:
            return None
        rows = await conn.fetch(
            "SELECT topic, key, value FROM accepted_events"
            " WHERE accepted_at > now() - make_interval(secs => $1) ORDER BY seq",
            retention_hours * 3600,
        )
        header = (("content-type", CONTENT_TYPE.encode()),)
        unseal = sealer().unseal
        await write_outbox(
            conn,
            "gateway",
            [OutboxMessage(r["topic"], r["key"], unseal(r["value"]), header) for r in rows],
        )
    log.warning(
        "broker_changed_republishing",
        previous_cluster=known,
        cluster=cluster_id,
        events=len(rows),
        window_hours=retention_hours,
        action="events accepted over HTTP are published again; duplicates are skipped",
    )
    return len(rows)


async def prune(conn: Any, retention_hours: float) -> int:
    status = await conn.execute(
        "DELETE FROM accepted_events WHERE accepted_at < now() - make_interval(secs => $1)",
        retention_hours * 3600,
    )
    return int(status.split()[-1])


async def watch(runtime: Any, retention_hours: float, every: float = 1.0) -> None:
    """Follow the runtime's broker probe; re-publish when the broker is another one."""
    seen: str | None = None
    pruned_at = 0.0
    while True:
        await asyncio.sleep(every)
        probe = runtime.probe
        cluster = None if probe is None else probe.cluster_id
        try:
            if cluster is not None and cluster != seen:
                async with connection(runtime.pool) as conn:
                    await on_cluster(conn, cluster, retention_hours)
                seen = cluster
            if time.monotonic() - pruned_at > PRUNE_EVERY_SECONDS:
                async with connection(runtime.pool) as conn:
                    await prune(conn, retention_hours)
                pruned_at = time.monotonic()
        except Exception as exc:  # the database is away: try again on the next round
            log.warning("republish_check_failed", error=repr(exc))
