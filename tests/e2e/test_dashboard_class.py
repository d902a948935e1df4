"""The counselor's class page in Chromium: a counselor whose token carries a class lands on
it, the most urgent student first; each open requirement says its state, the days to its
due date and the next step; internship flags are shown and filtered; the charts say the
table's numbers; the exports hold the screen's rows in the screen's order."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import Page

from sanzheng_gateway import messages
from sanzheng_shared.testing import (
    cloudevent,
    enrolled,
    eventually,
    fetch,
    lawful_post_internship,
    publish,
)
from tests.e2e.browser import browser_fixture, login_with, page_fixture
from tests.e2e.conftest import BATCH, RunningGateway, lifecycle

__all__ = ["browser_fixture", "page_fixture"]  # the `browser` and `page` fixtures
pytestmark = pytest.mark.slow
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the dashboard's days count in school time


def _timed(event: dict[str, Any], day: str) -> dict[str, Any]:
    return event | {"source": "sis/SCH001", "schoolid": "SCH001", "time": f"{day}T09:00:00+08:00"}


def _class_events(cls: str, ids: dict[str, str]) -> list[dict[str, Any]]:
    """Four students of one class, one per urgency: overdue (cohort 2023, nothing but an
    internship with pay below the floor: a flag), at risk (cohort 2025; the decision will
    say so), not due yet (cohort 2025), met (a whole lifecycle and a skill certificate)."""
    late, risky, early, done = ids["overdue"], ids["at_risk"], ids["on_track"], ids["met"]
    events = [
        _timed(enrolled(late, cohort=2023, birth_date="2007-03-01", class_id=cls), "2023-09-01"),
        _timed(
            cloudevent(
                "internship.started",
                late,
                lawful_post_internship(f"INT-{late}", monthly_pay=1000),
            )
            | {"dataversion": "2"},
            "2025-09-01",
        ),
        _timed(
            enrolled(
                risky, cohort=2025, birth_date="2010-04-01", enrolled_on="2025-09-01", class_id=cls
            ),
            "2025-09-01",
        ),
        _timed(
            enrolled(
                early, cohort=2025, birth_date="2010-03-01", enrolled_on="2025-09-01", class_id=cls
            ),
            "2025-09-01",
        ),
    ]
    whole = lifecycle(done, "SCH001")
    whole[0]["data"]["class_id"] = cls
    skill = cloudevent(
        "certificate.earned",
        done,
        {
            "certificate_no": f"SK-{done}",
            "kind": "skill",
            "title": "数控车铣加工",
            "issuer": "1+X 评价组织",
            "issued_on": "2026-05-20",
            "level": "junior",
            "issuer_type": "x_certificate",
        },
    )
    return [*events, *whole, _timed(skill, "2026-05-20")]


async def _decision(client: httpx.AsyncClient, gateway: RunningGateway, sid: str) -> Any:
    answer = await client.get(f"/v1/students/{sid}/graduation", headers=gateway.headers("bureau"))
    return answer.json() if answer.status_code == 200 else None


@pytest.fixture(scope="module")
async def urgent_class(gateway: RunningGateway) -> dict[str, Any]:
    cls = f"U-{uuid.uuid4().hex[:6]}"
    ids = {k: f"U{uuid.uuid4().hex[:8]}" for k in ("overdue", "at_risk", "on_track", "met")}
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        sent = await client.post(
            "/v1/events",
            content=json.dumps(_class_events(cls, ids)),
            headers={**BATCH, **gateway.headers("sis-1")},
        )
        assert sent.status_code == 202, sent.text

        async def decided() -> list[Any]:
            return [await _decision(client, gateway, sid) for sid in ids.values()]

        await eventually(
            decided,
            lambda found: all(found) and found[3]["eligible"] and not found[0]["eligible"],
            timeout=120,
        )

        async def flagged() -> Any:
            answer = await client.get(
                f"/v1/students/{ids['overdue']}", headers=gateway.headers("bureau")
            )
            return [f["code"] for i in answer.json()["internships"] for f in i.get("flags", [])]

        await eventually(flagged, lambda codes: "INT_PAY" in codes, timeout=60)
        # The decision's own `state` and `due_on` (the certificates service's, once it
        # writes them) win over the fallback rule: announce one with SKILL_1X at risk.
        risky = await _decision(client, gateway, ids["at_risk"])
        due = (datetime.now(SHANGHAI).date() + timedelta(days=10)).isoformat()
        requirements = [
            r | ({"state": "at_risk", "due_on": due} if r["code"] == "SKILL_1X" else {})
            for r in risky["requirements"]
        ]
        announced = cloudevent(
            "graduation.eligibility_changed",
            ids["at_risk"],
            {
                "eligible": False,
                "requirements": requirements,
                "policy_version": risky["policy_version"],
                "decided_at": datetime.now(UTC).isoformat(),
            },
        ) | {"source": "certificates"}
        settings = gateway.domain.settings
        assert settings.kafka_bootstrap
        await publish(settings.kafka_bootstrap, gateway.domain.topics.graduation, [announced])
        # The read model keeps the fields as announced (the API's model may not show them).
        await eventually(
            lambda: fetch(
                gateway.domain.url,
                "SELECT requirements FROM gateway.decisions WHERE student_id = $1",
                ids["at_risk"],
            ),
            lambda found: bool(found) and '"at_risk"' in found[0]["requirements"],
            timeout=60,
        )
    return {"class_id": cls, "ids": ids}


def _cli_token(gateway: RunningGateway, *args: str) -> tuple[str, str]:
    env = {**os.environ, "SANZHENG_DATABASE_URL": gateway.domain.url, "COLUMNS": "250"}
    run = [sys.executable, "-m", "sanzheng.main", "token"]
    created = subprocess.run(
        [*run, "create", *args], env=env, capture_output=True, text=True, check=True
    )
    listed = subprocess.run([*run, "list"], env=env, capture_output=True, text=True, check=True)
    return created.stdout.strip(), listed.stdout


@pytest.fixture(scope="module")
def class_counselor(gateway: RunningGateway, urgent_class: dict[str, Any]) -> str:
    """`sanzheng token create --role counselor --school SCH001 --class U-… --class C2024-01`."""
    cls = urgent_class["class_id"]
    token, listed = _cli_token(
        gateway,
        *("--role", "counselor", "--school", "SCH001", "--class", cls, "--class", "C2024-01"),
    )
    [line] = [row for row in listed.splitlines() if cls in row]
    assert "C2024-01" in line, "token list shows the classes"
    return token


async def _rows(page: Page) -> list[dict[str, Any]]:
    """The class table as the reader sees it: per student, its id, the urgency of the row
    and each open requirement's code, state, days and texts."""
    found = []
    for row in await page.locator("#students tr.student").all():
        items = []
        for item in await row.locator("li.req").all():
            items.append(
                {
                    "code": await item.get_attribute("data-code"),
                    "state": await item.get_attribute("data-state"),
                    "days": int(await item.get_attribute("data-days") or 0),
                    "text": await item.inner_text(),
                }
            )
        found.append(
            {
                "student_id": (await row.locator("th").inner_text()).split()[0],
                "urgency": await row.get_attribute("data-urgency"),
                "open": items,
                "flags": await row.locator("td.flags").inner_text(),
            }
        )
    return found


async def test_a_counselor_lands_on_their_class_most_urgent_first(
    page: Page, gateway: RunningGateway, urgent_class: dict[str, Any], class_counselor: str
) -> None:
    ids = urgent_class["ids"]
    await login_with(page, gateway.url, class_counselor)
    assert f"class_id={urgent_class['class_id']}" in page.url, page.url
    rows = await _rows(page)
    assert [r["student_id"] for r in rows] == [
        ids["overdue"],
        ids["at_risk"],
        ids["on_track"],
        ids["met"],
    ]
    assert [r["urgency"] for r in rows] == ["overdue", "at_risk", "on_track", "met"]
    late = {i["code"]: i for i in rows[0]["open"]}
    skill = late["SKILL_1X"]
    assert skill["state"] == "overdue" and skill["days"] < 0
    assert f"已逾期 {-skill['days']} 天" in skill["text"]
    assert "截止 2026-06-30" in skill["text"]  # cohort 2023, three years
    assert "下一步：" + messages.NEXT_ACTIONS["SKILL_1X"]["zh"] in skill["text"]
    assert late["LABOR_MONTH"]["text"].count("2025-06-30") == 1  # June of the 2nd year
    risky = rows[1]["open"][0]
    assert (risky["code"], risky["state"]) == ("SKILL_1X", "at_risk")
    assert "即将到期" in risky["text"] and "还有 10 天" in risky["text"]
    assert {i["state"] for i in rows[2]["open"]} == {"on_track"}
    assert "未到期" in rows[2]["open"][0]["text"]
    assert rows[3]["open"] == []
    await page.click("#lang")
    await page.wait_for_url("**lang=en**")
    assert f"class_id={urgent_class['class_id']}" in page.url, "the class is kept"
    english = await _rows(page)
    assert "overdue" in english[0]["open"][0]["text"]
    assert messages.NEXT_ACTIONS["SKILL_1X"]["en"] in english[1]["open"][0]["text"]


async def test_flags_are_shown_with_their_words_and_filtered(
    page: Page, gateway: RunningGateway, urgent_class: dict[str, Any], class_counselor: str
) -> None:
    ids, cls = urgent_class["ids"], urgent_class["class_id"]
    await login_with(page, gateway.url, class_counselor)
    rows = {r["student_id"]: r for r in await _rows(page)}
    assert "INT_PAY" in rows[ids["overdue"]]["flags"]
    assert messages.RULES["INT_PAY"]["zh"] in rows[ids["overdue"]]["flags"]
    assert rows[ids["met"]]["flags"] == "无"
    await page.select_option("select[name=flag]", "any")
    await page.click("#filters button[type=submit]")
    await page.wait_for_url("**flag=any**")
    assert [r["student_id"] for r in await _rows(page)] == [ids["overdue"]]
    await page.goto(f"{gateway.url}/ui/schools/SCH001?class_id={cls}&flag=INT_FEES")
    assert await _rows(page) == []
    await page.goto(f"{gateway.url}/ui/schools/SCH001?class_id={cls}&flag=INT_PAY")
    assert [r["student_id"] for r in await _rows(page)] == [ids["overdue"]]


def _csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx_rows(body: bytes) -> list[list[str]]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return [["" if c is None else str(c) for c in row] for row in sheet.values]


@pytest.mark.parametrize("flag", ["", "any"])
async def test_the_exports_hold_the_screens_rows(
    page: Page,
    gateway: RunningGateway,
    urgent_class: dict[str, Any],
    class_counselor: str,
    flag: str,
) -> None:
    await login_with(page, gateway.url, class_counselor)
    if flag:
        await page.goto(page.url + f"&flag={flag}")
    screen = await _rows(page)
    for link, read in (("#export-csv", _csv_rows), ("#export-xlsx", _xlsx_rows)):
        async with page.expect_download() as info:
            await page.click(link)
        download = await info.value
        rows = read(await asyncio.to_thread(Path(await download.path()).read_bytes))
        header, body = rows[0], rows[1:]
        assert header[-2:] == ["urgent", "flags"]
        assert [r[0] for r in body] == [r["student_id"] for r in screen]
        for exported, shown in zip(body, screen, strict=True):
            urgent = exported[header.index("urgent")].split()
            assert urgent == [f"{i['code']}:{i['state']}" for i in shown["open"]]
            flags = exported[header.index("flags")].split()
            assert all(f in shown["flags"] for f in flags)
            assert bool(flags) == (shown["flags"] != "无")


async def test_the_class_chart_says_the_tables_numbers(
    page: Page, gateway: RunningGateway, urgent_class: dict[str, Any], class_counselor: str
) -> None:
    await login_with(page, gateway.url, class_counselor)
    rows = await _rows(page)
    states = ("overdue", "at_risk", "on_track", "met")
    bars = await page.eval_on_selector_all(
        "#states-chart g.bar",
        "bars => bars.map(b => ({code: b.dataset.code, of: +b.dataset.of, overdue:"
        " +b.dataset.overdue, at_risk: +b.dataset.atRisk, on_track: +b.dataset.onTrack,"
        " met: +b.dataset.met}))",
    )
    assert len(bars) >= 6
    for bar in bars:
        cells = page.locator(f"#progress tr[data-code={bar['code']}] td[data-state]")
        table = {
            (await c.get_attribute("data-state")): int(await c.inner_text())
            for c in await cells.all()
        }
        assert table == {s: bar[s] for s in states}, bar["code"]
        assert bar["of"] == sum(table.values()) == len(rows)
        # The rows below say the same: one open item per student in that state.
        for state in ("overdue", "at_risk", "on_track"):
            listed = sum(1 for r in rows for i in r["open"] if (i["code"], i["state"]) == (
                bar["code"], state))  # fmt: skip
            assert listed == bar[state], (bar["code"], state)
    # Each drawn segment's <title> names its count too.
    titles = await page.eval_on_selector_all(
        "#states-chart rect title", "titles => titles.map(t => t.textContent)"
    )
    assert any(t.endswith(": 1") and "已逾期" in t for t in titles), titles


async def test_the_school_chart_ends_at_todays_eligible_count(
    page: Page, gateway: RunningGateway, urgent_class: dict[str, Any], class_counselor: str
) -> None:
    await login_with(page, gateway.url, class_counselor)
    await page.goto(f"{gateway.url}/ui/schools/SCH001?page_size=500")
    eligible: dict[str, int] = {}
    total: dict[str, int] = {}
    for row in await page.locator("#students tr.student").all():
        cohort = await row.locator("td").nth(1).inner_text()
        total[cohort] = total.get(cohort, 0) + 1
        eligible[cohort] = eligible.get(cohort, 0) + (
            await row.get_attribute("data-urgency") == "met"
        )
    assert eligible.get("2023", 0) >= 1
    lines = page.locator("#history-chart g.cohort-line")
    assert await lines.count() == len(total)
    for line in await lines.all():
        cohort = await line.get_attribute("data-cohort") or ""
        last = line.locator("circle").last
        drawn = (int(await last.get_attribute("data-eligible") or -1), int(
            await last.get_attribute("data-of") or -1))  # fmt: skip
        cell = page.locator(f"#history tr[data-cohort='{cohort}'] td[data-eligible]")
        tabled = (int(await cell.get_attribute("data-eligible") or -2), int(
            await cell.get_attribute("data-of") or -2))  # fmt: skip
        assert drawn == tabled == (eligible[cohort], total[cohort]), cohort


async def test_the_demos_counselor_opens_on_the_schools_first_class(
    page: Page, gateway: RunningGateway, urgent_class: dict[str, Any]
) -> None:
    from sanzheng.demo import counselor_token

    token = await counselor_token(gateway.domain.url, "SCH001")
    await login_with(page, gateway.url, token)
    assert f"class_id={urgent_class['class_id']}" in page.url, page.url
    assert await page.locator("header .my-class").all_inner_texts() == [urgent_class["class_id"]]


async def test_a_certificate_that_does_not_count_says_why(
    page: Page, gateway: RunningGateway, class_counselor: str
) -> None:
    sid = f"W{uuid.uuid4().hex[:8]}"

    def skill(number: str, issuer_type: str) -> dict[str, Any]:
        data = {
            "certificate_no": number,
            "kind": "skill",
            "title": "数控车铣加工",
            "issuer": "评价组织",
            "issued_on": "2026-05-20",
            "level": "junior",
            "issuer_type": issuer_type,
        }
        return _timed(cloudevent("certificate.earned", sid, data), "2026-05-20")

    revoked = {"certificate_no": f"SK-{sid}-2", "on": "2026-06-01", "reason": "证书信息有误"}
    events = [
        _timed(enrolled(sid, cohort=2024, class_id="V-1"), "2024-09-01"),
        skill(f"SK-{sid}-1", "vocational_qualification"),
        skill(f"SK-{sid}-2", "x_certificate"),
        _timed(cloudevent("certificate.revoked", sid, revoked), "2026-06-01"),
    ]
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        sent = await client.post(
            "/v1/events",
            content=json.dumps(events),
            headers={**BATCH, **gateway.headers("sis-1")},
        )
        assert sent.status_code == 202, sent.text
        await eventually(
            lambda: _decision(client, gateway, sid),
            lambda d: bool(d) and "not counted" in str(d["requirements"]),
            timeout=90,
        )
        # Every row the page shows is in the gateway's read model before the page opens.
        await eventually(
            lambda: client.get(f"/v1/students/{sid}/timeline", headers=gateway.headers("bureau")),
            lambda r: (
                "certificate.revoked" in r.text
                and f"SK-{sid}-1" in r.text
                and f"SK-{sid}-2" in r.text
            ),
            timeout=90,
        )
    # The full suite loads the machine: a slow render is not a failure of this page.
    page.set_default_timeout(90_000)
    await login_with(page, gateway.url, class_counselor)
    await page.goto(f"{gateway.url}/ui/students/{sid}")
    uncounted = await page.inner_text(f"#certificates tr[data-no='SK-{sid}-1']")
    assert "不计入毕业条件：职业资格证书不在政策认可的发证类型内" in uncounted
    gone = await page.inner_text(f"#certificates tr[data-no='SK-{sid}-2']")
    assert "已撤销" in gone and "撤销于 2026-06-01，原因：证书信息有误" in gone
    assert "日期 2026-06-01，原因：证书信息有误" in await page.inner_text("#timeline")
    await page.goto(f"{gateway.url}/ui/students/{sid}?lang=en")
    uncounted = await page.inner_text(f"#certificates tr[data-no='SK-{sid}-1']")
    assert "does not count: vocational qualification is not accepted by the policy" in uncounted
