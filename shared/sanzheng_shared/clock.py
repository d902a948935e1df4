"""Events a service raises itself because a date passed (an internship still active a month
after its planned end expires, SPEC §2.2).

Nobody sends them: a periodic job asks the service which are due today and folds them
through the same batch as the broker's records. So they take the students' locks, land in
`event_log` (a replay folds them again and gets the same projection), are de-duplicated by
(source, id) — one id per subject, key and day, so replicas running the job at once apply
it once — and what they cause leaves through the outbox.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sanzheng_shared.consumer.context import Handler
from sanzheng_shared.engine.eventlog import LoggedRecord
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.logging import get_logger

log = get_logger(__name__)

SOURCE = "sanzheng/clock"
# The school day is the one in China (SPEC §5.2 shows times in Asia/Shanghai).
SCHOOL_TIME = ZoneInfo("Asia/Shanghai")
# A clock record comes from no broker partition: no offset is stored for it.
NO_PARTITION = -1


def topic(service: str) -> str:
    """The pseudo-topic clock events are routed and logged under (never on the broker)."""
    return f"{service}.clock"


def today() -> date:
    return datetime.now(SCHOOL_TIME).date()


Due = Callable[[Any, date, Any], Awaitable[list[CloudEvent]]]
"""(connection with the service's schema first, today, the policy book) -> the events due."""


@dataclass(frozen=True)
class ClockJob:
    handlers: Mapping[str, Handler]
    due: Due
    every_seconds: float = 3600.0


def tick(
    type_: str, subject: str, school_id: str | None, key: str, on: date, data: dict[str, Any]
) -> CloudEvent:
    return CloudEvent.model_validate(
        {
            "specversion": "1.0",
            "id": f"{type_}:{key}:{on.isoformat()}",
            "source": SOURCE,
            "type": type_,
            "subject": subject,
            "schoolid": school_id,
            "time": datetime.combine(on, datetime.min.time(), SCHOOL_TIME).isoformat(),
            "datacontenttype": "application/json",
            "data": data,
        }
    )


def records(service: str, events: list[CloudEvent]) -> list[LoggedRecord]:
    now_ms = int(time.time() * 1000)
    return [
        LoggedRecord(
            topic(service),
            NO_PARTITION,
            n,
            now_ms,
            json.dumps(e.model_dump(mode="json", exclude_none=True)).encode(),
            e.subject.encode() if e.subject else None,
        )
        for n, e in enumerate(events)
    ]


async def run_once(processor: Any, job: ClockJob, day: date | None = None) -> int:
    """Fold what is due on `day` (today in China by default); return how many events."""
    day = day or today()
    async with processor.pool.acquire() as conn:
        events = await job.due(conn, day, processor.policies)
    if events:
        outcome = await processor.process(records(processor.service, events))
        log.info(
            "clock_events_folded", day=day.isoformat(), due=len(events), applied=outcome.applied
        )
    return len(events)


async def run_periodically(processor: Any, job: ClockJob) -> None:
    while True:
        try:
            await run_once(processor, job)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round tries again; the consumer is not affected
            log.exception("clock_round_failed")
        await asyncio.sleep(job.every_seconds)
