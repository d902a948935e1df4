"""A summer period that would make up a failed June (SPEC §2.3, policy: make-up allowed)
and came before its June waits for that June. Before, a June passed later left it waiting
for good; now it is refused (LAB_JUNE) as when it comes after that June."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sanzheng_labor_education.app import SPEC as LABOR
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.testing import cloudevent, enrolled

from .conftest import TOPICS, canonical, outbox_events, processor, record


@pytest.fixture
async def labor(database_url: str) -> AsyncIterator[BatchProcessor]:
    async for p in processor(database_url, LABOR):
        yield p


def _period(student: str, start: str, end: str, evaluation: str = "pass") -> dict[str, Any]:
    data = {"period_start": start, "period_end": end, "hours": 160, "site": "实训基地",
            "evaluation": evaluation}  # fmt: skip
    return cloudevent("labor_education.completed", student, data)


def _known(student: str, cohort: int) -> Any:
    event = canonical(enrolled(student, cohort=cohort, enrolled_on=f"{cohort}-09-01"), "enrollment")
    return record(TOPICS.outbound("enrollment"), event)


async def _outcome(labor: BatchProcessor, event: dict[str, Any]) -> list[str]:
    """The rule codes the event was refused with, ["accepted"], or [] while it waits."""
    for e in await outbox_events(labor):
        if e["type"] == "submission.rejected" and e["data"]["id"] == event["id"]:
            return [r["code"] for r in e["data"]["reasons"]]
        announced = e["type"] == "labor_education.completed" and e["subject"] == event["subject"]
        if announced and e["data"]["period_start"] == event["data"]["period_start"]:
            return ["accepted"]
    return []


async def test_a_summer_period_then_a_june_passed_is_refused_as_outside_june(
    labor: BatchProcessor,
) -> None:
    inbound = TOPICS.inbound("labor-education")
    july = _period("MK-P", "2026-07-01", "2026-07-31")
    await labor.process([_known("MK-P", 2024), record(inbound, july)])
    assert await _outcome(labor, july) == [], "it waits: a failed June may come"
    await labor.process([record(inbound, _period("MK-P", "2026-06-01", "2026-06-30"))])
    assert await _outcome(labor, july) == ["LAB_JUNE"], "as when it comes after the June"


async def test_a_summer_period_then_a_june_failed_is_its_make_up(labor: BatchProcessor) -> None:
    inbound = TOPICS.inbound("labor-education")
    july = _period("MK-F", "2026-07-01", "2026-07-31")
    await labor.process([_known("MK-F", 2024), record(inbound, july)])
    await labor.process([record(inbound, _period("MK-F", "2026-06-01", "2026-06-30", "fail"))])
    assert await _outcome(labor, july) == ["accepted"]
