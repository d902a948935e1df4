"""The labor-education projection: accepted months and exemptions per student."""

from __future__ import annotations

from typing import Any

from sanzheng_shared.events.catalogue import LaborEducationCompleted, LaborEducationExempted
from sanzheng_shared.events.envelope import CloudEvent


async def add_completed(conn: Any, event: CloudEvent, d: LaborEducationCompleted) -> None:
    await conn.execute(
        "INSERT INTO labor_records (event_source, event_id, student_id, kind, period_start,"
        " period_end, hours, site) VALUES ($1, $2, $3, 'completed', $4, $5, $6, $7)"
        " ON CONFLICT DO NOTHING",
        event.source,
        event.id,
        event.subject,
        d.period_start,
        d.period_end,
        d.hours,
        d.site,
    )


async def add_exempted(conn: Any, event: CloudEvent, d: LaborEducationExempted) -> None:
    await conn.execute(
        "INSERT INTO labor_records (event_source, event_id, student_id, kind, reason,"
        " approved_by, on_date) VALUES ($1, $2, $3, 'exempted', $4, $5, $6)"
        " ON CONFLICT DO NOTHING",
        event.source,
        event.id,
        event.subject,
        d.reason,
        d.approved_by,
        d.on,
    )
