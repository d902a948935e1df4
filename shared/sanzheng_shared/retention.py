"""Inbox retention: de-duplication rows older than the broker can re-deliver are deleted.

An inbox row guards against a second delivery of an event. The broker can re-deliver a
record only while it keeps it, and a record is consumed (its row written, `received_at`)
after it was appended, so once `received_at` is older than the broker's retention the
broker cannot send that event again. The margin covers clock skew and a retention raised
later. A duplicate published anew by a school after that window is applied again: the
window is the promise (README, "Inbox retention").
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sanzheng_shared import stale
from sanzheng_shared.db.pool import connection
from sanzheng_shared.logging import get_logger
from sanzheng_shared.metrics import INBOX_PRUNED
from sanzheng_shared.settings import Settings

log = get_logger(__name__)


def inbox_keep(settings: Settings) -> timedelta:
    """How long an inbox row is kept: the broker's retention plus the margin."""
    return timedelta(days=settings.broker_retention_days + settings.inbox_retention_margin_days)


async def prune_inbox(conn: Any, keep: timedelta, *, chunk: int = 10_000) -> int:
    """Delete the inbox rows of the connection's schema received more than `keep` ago, in
    short chunks (no long lock against the consumers); returns how many were deleted."""
    deleted = 0
    while True:
        status = await conn.execute(
            "DELETE FROM inbox WHERE ctid = ANY(ARRAY("
            " SELECT ctid FROM inbox WHERE received_at < now() - $1::interval LIMIT $2))",
            keep,
            chunk,
        )
        n = int(status.split()[-1])
        deleted += n
        if n < chunk:
            return deleted


async def prune_periodically(service: str, pool: Any, settings: Settings) -> None:
    """Run by each service process every `inbox_prune_every_seconds` (0: never)."""
    keep = inbox_keep(settings)
    stale_after = stale.limit()
    while settings.inbox_prune_every_seconds > 0:
        try:
            async with connection(pool) as conn:
                deleted = await prune_inbox(conn, keep)
                await stale.report(conn, service, stale_after)
            INBOX_PRUNED.labels(service).inc(deleted)
            if deleted:
                log.info("inbox_pruned", rows=deleted, older_than_days=keep.days)
        except Exception as exc:  # the next run tries again; consuming goes on meanwhile
            log.warning("inbox_prune_failed", error=repr(exc))
        await asyncio.sleep(settings.inbox_prune_every_seconds)
