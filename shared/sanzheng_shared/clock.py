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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as day_time
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


def today(starts_at: day_time = day_time(0)) -> date:
    """The school day now: a job whose day starts at 01:00 still works for yesterday at
    00:30."""
    now = datetime.now(SCHOOL_TIME)
    return (now - timedelta(hours=starts_at.hour, minutes=starts_at.minute)).date()


Due = Callable[[Any, date, Any], Awaitable[list[CloudEvent]]]
"""(connection with the service's schema first, today, the policy book) -> the events due."""
Done = Callable[[Any, date, int, int], Awaitable[None]]
"""(connection, the day, events due, events applied): the day's events are all folded."""

# Events folded in one batch (one transaction): a day with 100,000 students due does not
# hold 100,000 students' locks at once, and a run that dies keeps the batches it finished.
CHUNK = 500


@dataclass(frozen=True)
class ClockJob:
    handlers: Mapping[str, Handler]
    due: Due
    every_seconds: float = 3600.0
    day_starts_at: day_time = day_time(0)
    """The hour (Asia/Shanghai) from which a day's events are due."""
    done: Done | None = None
    """Told when a day's events are all folded (a job may then list nothing more that day)."""


def tick(
    type_: str,
    subject: str,
    school_id: str | None,
    key: str,
    on: date,
    data: dict[str, Any],
    at: day_time = day_time(0),
) -> CloudEvent:
    """The clock event of `key` on day `on`, happening at `at` that day (Asia/Shanghai): one
    id per key and day, so a second run of the day, or another replica's, is a duplicate."""
    return CloudEvent.model_validate(
        {
            "specversion": "1.0",
            "id": f"{type_}:{key}:{on.isoformat()}",
            "source": SOURCE,
            "type": type_,
            "subject": subject,
            "schoolid": school_id,
            "time": datetime.combine(on, at, SCHOOL_TIME).isoformat(),
            "datacontenttype": "application/json",
            "data": data,
        }
    )


def records(service: str, events: list[CloudEvent]) -> list[LoggedRecord]:
    """The clock events as records received when they happened: what they decide is dated
    by the event's day (the same in a replay, and in a test that runs a day of next June)."""
    return [
        LoggedRecord(
            topic(service),
            NO_PARTITION,
            n,
            int(e.time.timestamp() * 1000) if e.time else None,
            json.dumps(e.model_dump(mode="json", exclude_none=True)).encode(),
            e.subject.encode() if e.subject else None,
        )
        for n, e in enumerate(events)
    ]


async def run_once(processor: Any, job: ClockJob, day: date | None = None) -> int:
    """Fold what is due on `day` (today in China by default), CHUNK events a batch; return
    how many events were due."""
    day = day or today(job.day_starts_at)
    async with processor.pool.acquire() as conn:
        events = await job.due(conn, day, processor.policies)
    applied = 0
    for start in range(0, len(events), CHUNK):
        chunk = events[start : start + CHUNK]
        outcome = await processor.process(records(processor.service, chunk))
        applied += outcome.applied
    if events:
        log.info("clock_events_folded", day=day.isoformat(), due=len(events), applied=applied)
    if job.done is not None:
        async with processor.pool.acquire() as conn:
            await job.done(conn, day, len(events), applied)
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
