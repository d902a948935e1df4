"""Early warnings (issue 13, SPEC §2.5): the certificates service's daily evaluation, run
with an injected day through the real broker and database, decides again the students
whose requirement states change with the date and announces `student.at_risk` /
`student.risk_cleared` on graduation.events; once per day; the student's status lists the
open ones and a recorded fact clears them."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from sanzheng_certificates import daily
from sanzheng_shared import clock
from sanzheng_shared.domain.school_year import school_year_of
from sanzheng_shared.testing import cloudevent, enrolled, eventually, fetch, read_events

from .conftest import BATCH, CERTIFICATES, STRUCTURED, projection_snapshot, replay_service

pytestmark = pytest.mark.slow

# A cohort in its first year: its labor month is due on 30 June of next school year.
COHORT = school_year_of(date.today())
JUNE = COHORT + 2
DUE = f"{JUNE}-06-30"


async def _status(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/students/{sid}")
    return answer.json() if answer.status_code == 200 else {}


def _certificates(gateway: Any) -> Any:
    return next(r for r in gateway.domain.runtimes if r.spec.name == "certificates")


async def _evaluate(gateway: Any, day: date) -> int:
    """The day's evaluation, as the service's hourly clock round runs it: the students due."""
    return await clock.run_once(_certificates(gateway).processor, daily.JOB, day)


@pytest.fixture(scope="module")
async def first_years(gateway: Any) -> dict[str, str]:
    ids = {"done": f"D{uuid.uuid4().hex[:8]}", "idle": f"I{uuid.uuid4().hex[:8]}"}
    events = [
        enrolled(sid, cohort=COHORT, birth_date=f"{COHORT - 15}-03-01") for sid in ids.values()
    ]
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("bureau")) as c:
        answer = await c.post(
            "/v1/events", content=json.dumps(events), headers={**BATCH, **gateway.headers("sis-1")}
        )
        assert answer.status_code == 202, answer.text
        for sid in ids.values():
            await eventually(
                lambda s=sid: _status(c, s),
                lambda body: body.get("graduation") and body.get("enrollment"),
                timeout=90,
            )
    return ids


def _labor(status: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in status["graduation"]["requirements"] if r["code"] == "LABOR_MONTH")


async def test_the_daily_evaluation_warns_once_a_day_and_a_fact_clears_the_warning(
    gateway: Any, first_years: dict[str, str]
) -> None:
    done, idle = first_years["done"], first_years["idle"]
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("counselor-1")) as c:
        assert _labor(await _status(c, done))["state"] == "on_track"
        assert (await _status(c, done))["warnings"] == []

        # 20 May of the 2nd year: no labor month recorded within 46 days of 30 June.
        due = await _evaluate(gateway, date(JUNE, 5, 20))
        assert due >= 2  # both students, and any other test's not yet eligible
        assert await _evaluate(gateway, date(JUNE, 5, 20)) == 0  # once per day

        for sid in (done, idle):
            body = await eventually(
                lambda s=sid: _status(c, s), lambda b: b["warnings"], timeout=60
            )
            assert body["warnings"][0] | {"since": None} == {
                "requirement": "LABOR_MONTH",
                "state": "at_risk",
                "due_on": DUE,
                "detail": "June labor-education month (2nd school year) not recorded",
                "since": None,
            }
            assert _labor(body)["state"] == "at_risk"

        # The school records the month: the warning clears.
        month = cloudevent(
            "labor_education.completed",
            done,
            {
                "period_start": f"{JUNE}-06-01",
                "period_end": DUE,
                "hours": 160,
                "site": "实训基地",
                "evaluation": "pass",
            },
        )
        posted = await c.post(
            "/v1/events", json=month, headers={**STRUCTURED, **gateway.headers("sis-1")}
        )
        assert posted.status_code == 202, posted.text
        cleared = await eventually(
            lambda: _status(c, done), lambda b: b["warnings"] == [], timeout=60
        )
        assert _labor(cleared)["state"] == "met"

        # 1 July: the month left unrecorded is overdue, a second warning.
        await _evaluate(gateway, date(JUNE, 7, 1))
        late = await eventually(
            lambda: _status(c, idle), lambda b: b["warnings"][0]["state"] == "overdue", timeout=60
        )
        assert _labor(late)["state"] == "overdue"

    warnings = [
        e
        for e in await read_events(
            gateway.domain.settings.kafka_bootstrap, gateway.domain.topics.graduation
        )
        if e["type"] in ("student.at_risk", "student.risk_cleared") and e["subject"] in (done, idle)
    ]
    said = sorted((e["subject"], e["type"], e["data"]["state"]) for e in warnings)
    assert said == sorted(
        [
            (done, "student.at_risk", "at_risk"),
            (done, "student.risk_cleared", "met"),
            (idle, "student.at_risk", "at_risk"),
            (idle, "student.at_risk", "overdue"),
        ]
    )
    assert len({e["id"] for e in warnings}) == len(warnings)

    # The enrollment service reads graduation.events for the decisions: it takes the
    # warnings too, and dead-letters none of them.
    ids = [e["id"] for e in warnings]
    claimed = await eventually(
        lambda: fetch(
            gateway.domain.url,
            "SELECT id, dead_lettered_at FROM enrollment.inbox WHERE id = ANY($1::text[])",
            ids,
        ),
        lambda rows: len(rows) == len(ids),
        timeout=60,
    )
    assert [r["id"] for r in claimed if r["dead_lettered_at"] is not None] == []


async def test_sanzheng_status_lists_the_warnings(
    gateway: Any, first_years: dict[str, str]
) -> None:
    import asyncio

    from typer.testing import CliRunner

    from sanzheng.main import app

    idle = first_years["idle"]
    await _evaluate(gateway, date(JUNE, 7, 1))  # done already when the test above ran
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("counselor-1")) as c:
        await eventually(lambda: _status(c, idle), lambda b: b["warnings"], timeout=60)
    args = ["status", idle, "--token", gateway.tokens["counselor-1"], "--url", gateway.url]
    # The gateway answers on this event loop: the CLI's blocking client runs beside it.
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    assert "warning LABOR_MONTH overdue (due " + DUE + ")" in " ".join(result.output.split())


async def test_the_warnings_feed_answers_as_a_file(
    gateway: Any, first_years: dict[str, str]
) -> None:
    """SPEC §5.2: lists answer ?format=csv|xlsx too."""
    import csv
    import io

    url = "/v1/schools/SCH001/warnings"
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:
        feed = (await c.get(url, params={"limit": 1000})).json()["events"]
        assert feed
        answer = await c.get(url, params={"limit": 1000, "format": "csv"})
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [(int(r["seq"]), r["student_id"], r["state"]) for r in rows] == [
        (e["seq"], e["student_id"], e["state"]) for e in feed
    ]


async def test_the_cli_answers_without_a_token_as_the_operator(
    gateway: Any, first_years: dict[str, str]
) -> None:
    """SPEC §5.1 names no token for `status` and `eligibility`: the CLI, which reaches the
    gateway's database as `token create` does, takes a bureau token of a few minutes,
    labelled as its own in the access log, and revokes it when done. Before, it stopped
    with "give --token"."""
    import asyncio

    from typer.testing import CliRunner

    from sanzheng.main import app
    from sanzheng_shared.settings import get_settings

    idle = first_years["idle"]
    env = {"SANZHENG_DATABASE_URL": gateway.domain.url, "SANZHENG_TOKEN": "", "COLUMNS": "200"}

    def cli(*args: str) -> Any:
        get_settings.cache_clear()  # a command is a process of its own, reading its settings
        try:
            return CliRunner().invoke(app, [*args, "--url", gateway.url], env=env)
        finally:
            get_settings.cache_clear()

    result = await asyncio.to_thread(cli, "status", idle)
    assert result.exit_code == 0, result.output
    assert "LABOR_MONTH" in result.output and idle in result.output
    result = await asyncio.to_thread(cli, "eligibility", "--school", "SCH001")
    assert result.exit_code == 0, result.output
    assert idle in result.output
    tokens = await fetch(
        gateway.domain.url,
        "SELECT token_id, role, revoked_at FROM gateway.tokens WHERE label = 'sanzheng CLI'",
    )
    assert len(tokens) == 2 and all(t["role"] == "bureau" and t["revoked_at"] for t in tokens)
    viewed = await fetch(
        gateway.domain.url,
        "SELECT count(*) AS n FROM gateway.access_log WHERE student_id = $1"
        " AND token_id = ANY($2::text[])",
        idle,
        [t["token_id"] for t in tokens],
    )
    assert viewed[0]["n"] >= 2, "the view and the list are in the access log"


async def test_a_school_follows_its_warnings_as_a_feed_with_its_own_token(
    gateway: Any, first_years: dict[str, str]
) -> None:
    """What the first test announced, in order, for the school's system (its sis token),
    page by page; another school's token sees nothing of it."""
    done, idle = first_years["done"], first_years["idle"]
    url = "/v1/schools/SCH001/warnings"
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:

        async def ours() -> list[tuple[str, str, str]]:
            events, after = [], 0
            while True:  # two a page: the cursor is followed to the end
                answer = await c.get(url, params={"after": after, "limit": 2})
                assert answer.status_code == 200, answer.text
                page = answer.json()
                events += page["events"]
                if not page["events"]:
                    return [
                        (e["student_id"], e["type"], e["state"])
                        for e in events
                        if e["student_id"] in (done, idle)
                    ]
                assert page["next_after"] == page["events"][-1]["seq"] > after
                after = page["next_after"]

        said = await eventually(ours, lambda found: len(found) >= 4, timeout=60)
        assert sorted(said) == sorted(
            [
                (done, "student.at_risk", "at_risk"),
                (done, "student.risk_cleared", "met"),
                (idle, "student.at_risk", "at_risk"),
                (idle, "student.at_risk", "overdue"),
            ]
        )
        # In order for each student: the warning before its clearing.
        assert [s[1] for s in said if s[0] == done] == [
            "student.at_risk",
            "student.risk_cleared",
        ]
        other = await c.get(url, headers=gateway.headers("sis-2"))
        assert other.status_code == 404
        counselor = await c.get(url, headers=gateway.headers("counselor-1"))
        assert counselor.status_code == 200


async def test_a_daily_run_that_died_partway_is_finished_by_the_next_round_and_replayed(
    gateway: Any,
) -> None:
    """The evaluation is folded through the batch engine: the students a dead run reached
    are not decided twice when the next hourly round finishes the day, and a replay of the
    event log makes the same decisions (before, it lost every state the date had moved)."""
    import asyncpg

    cohort = COHORT - 1  # in its 2nd year: the labor month is due this coming June
    june, domain = cohort + 2, gateway.domain
    ids = [f"R{n}{uuid.uuid4().hex[:8]}" for n in range(3)]
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:
        events = [enrolled(sid, cohort=cohort, birth_date=f"{cohort - 15}-03-01") for sid in ids]
        answer = await c.post("/v1/events", content=json.dumps(events), headers=BATCH)
        assert answer.status_code == 202, answer.text
    for sid in ids:
        await eventually(lambda s=sid: domain.decision(s), lambda d: d is not None, timeout=90)

    day = date(june, 5, 20)
    runtime = _certificates(gateway)
    conn = await asyncpg.connect(domain.url)
    try:
        await conn.execute("SET search_path TO certificates, public")
        due = await daily.due(conn, day, None)
    finally:
        await conn.close()
    assert {e.subject for e in due} >= set(ids)
    # A run that committed its first batch (one of ours) and died.
    first = next(e for e in due if e.subject == ids[0])
    await runtime.processor.process(clock.records("certificates", [first]))

    assert await _evaluate(gateway, day) == len(due)  # the next round: the day again
    assert await _evaluate(gateway, day) == 0  # finished: later rounds list nobody

    def ours(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["type"] == "student.at_risk" and e["subject"] in ids]

    warnings = await eventually(
        lambda: read_events(domain.settings.kafka_bootstrap, domain.topics.graduation),
        lambda events: len(ours(events)) >= len(ids),
        timeout=60,
    )
    assert sorted((e["subject"], e["data"]["requirement"]) for e in ours(warnings)) == sorted(
        (sid, "LABOR_MONTH") for sid in ids
    )
    logged = await fetch(
        domain.url,
        "SELECT student_id, count(*) AS n FROM certificates.event_log"
        " WHERE topic = $1 AND student_id = ANY($2::text[]) GROUP BY student_id",
        clock.topic("certificates"),
        ids,
    )
    assert sorted((r["student_id"], r["n"]) for r in logged) == sorted((sid, 1) for sid in ids)

    live = await projection_snapshot(domain.url, CERTIFICATES)
    await replay_service(domain, CERTIFICATES)
    assert await projection_snapshot(domain.url, CERTIFICATES) == live
