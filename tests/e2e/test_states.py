"""Requirement states over HTTP (issue 13, SPEC §2.5): each requirement of a decision has a
`state` and a `due_on`; the school list filters by state and sorts by urgency. The decision
date is the broker's, so cohorts are chosen relative to today: one that graduated last
June (everything unmet is overdue) and one that entered this school year (nothing is due
yet)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from sanzheng_shared.domain.school_year import school_year_of
from sanzheng_shared.testing import enrolled, eventually

from .conftest import BATCH

pytestmark = pytest.mark.slow

THIS_YEAR = school_year_of(date.today())


async def _decision(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/students/{sid}/graduation")
    return answer.json() if answer.status_code == 200 else {}


@pytest.fixture(scope="module")
async def two_cohorts(gateway: Any) -> dict[str, str]:
    ids = {"late": f"L{uuid.uuid4().hex[:8]}", "new": f"N{uuid.uuid4().hex[:8]}"}
    cohorts = {"late": THIS_YEAR - 3, "new": THIS_YEAR}
    events = [
        enrolled(sid, cohort=cohorts[k], birth_date=f"{cohorts[k] - 15}-03-01")
        for k, sid in ids.items()
    ]
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("bureau")) as c:
        answer = await c.post(
            "/v1/events",
            content=json.dumps(events),
            headers={**BATCH, **gateway.headers("sis-1")},
        )
        assert answer.status_code == 202, answer.text
        for sid in ids.values():
            await eventually(lambda s=sid: _decision(c, s), timeout=90)
    return ids


async def test_every_requirement_has_a_state_and_a_due_date(
    gateway: Any, two_cohorts: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("counselor-1")) as c:
        late = {r["code"]: r for r in (await _decision(c, two_cohorts["late"]))["requirements"]}
        new = {r["code"]: r for r in (await _decision(c, two_cohorts["new"]))["requirements"]}
    assert late["ENROLLED"]["state"] == "met"
    assert late["SKILL_1X"]["state"] == "overdue"
    assert late["SKILL_1X"]["due_on"] == f"{THIS_YEAR}-06-30"
    assert late["LABOR_MONTH"]["due_on"] == f"{THIS_YEAR - 1}-06-30"
    assert late["INTERNSHIP"]["due_on"] == f"{THIS_YEAR}-05-31"
    assert {r["state"] for r in new.values()} == {"met", "on_track"}
    assert new["LABOR_MONTH"]["due_on"] == f"{THIS_YEAR + 2}-06-30"


async def test_the_school_list_filters_by_state_and_puts_the_most_urgent_first(
    gateway: Any, two_cohorts: dict[str, str]
) -> None:
    url = "/v1/schools/SCH001/graduation"
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("counselor-1")) as c:
        overdue = (await c.get(url, params={"state": "overdue", "page_size": 500})).json()
        listed = {s["student_id"]: s for s in overdue["students"]}
        assert two_cohorts["late"] in listed and two_cohorts["new"] not in listed
        assert listed[two_cohorts["late"]]["states"][0] == "overdue"
        assert listed[two_cohorts["late"]]["next_due"] == f"{THIS_YEAR - 1}-06-30"
        urgent = (await c.get(url, params={"sort": "urgency", "page_size": 500})).json()
        order = [s["student_id"] for s in urgent["students"]]
        assert order.index(two_cohorts["late"]) < order.index(two_cohorts["new"])
        ranks = [0 if "overdue" in s["states"] else 1 for s in urgent["students"]]
        assert ranks == sorted(ranks)
        bad = await c.get(url, params={"state": "nope"})
        assert bad.status_code == 422
