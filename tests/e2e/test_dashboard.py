"""The counselors' dashboard in a real headless Chromium (Debian's, through Playwright):
log in with a token, find a student, see what is missing, filter a cohort, and get 404 for
another school's student. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import Page

from sanzheng_gateway import messages
from sanzheng_shared.testing import enrolled, eventually, fetch
from tests.e2e.browser import (
    ARTIFACTS,
    browser_fixture,
    login,
    page_fixture,
    serious_violations,
)
from tests.e2e.conftest import RunningGateway

# The browser fixtures, here by name (`browser`, `page`).
__all__ = ["browser_fixture", "page_fixture"]

pytestmark = pytest.mark.slow
_login = login


async def test_a_wrong_token_is_refused(page: Page, gateway: RunningGateway) -> None:
    await page.goto(gateway.url + "/")
    await page.fill("input[name=token]", "szk_c_not-a-token")
    await page.click("button[type=submit]")
    assert await page.get_by_role("alert").inner_text() == "令牌无效或已撤销"


async def test_find_a_student_and_see_what_is_missing(page, gateway, students) -> None:
    sid = students["SCH001"]
    await _login(page, gateway)
    await page.fill("input[name=q]", sid[:5])  # htmx searches as the counselor types
    await page.click(f"#results a:has-text('{sid}')")
    await page.wait_for_selector("#checklist")
    assert await page.inner_text("#verdict") == "尚不符合毕业条件"
    missing = page.locator("#checklist tr.missing")
    assert await missing.count() == 1
    assert await missing.get_attribute("data-code") == "SKILL_1X"
    assert "缺少职业技能等级证书：初级及以上已有 0 张，需要 1 张" in await missing.inner_text()
    assert await page.locator("#timeline tr").count() == 8


async def test_english_labels_are_available(page, gateway, students) -> None:
    await _login(page, gateway)
    await page.goto(f"{gateway.url}/ui/students/{students['SCH001']}?lang=en")
    assert await page.inner_text("#verdict") == "Not yet eligible"
    missing = page.locator("#checklist tr.missing")
    assert "skill certificate missing: 0 of 1 at level junior" in await missing.inner_text()
    assert "certificate earned" in await page.inner_text("#timeline")


async def test_filter_a_cohort_by_missing_requirement(page, gateway, students) -> None:
    await _login(page, gateway)
    await page.click("text=班级 / 年级")
    await page.fill("input[name=cohort]", "2023")
    await page.select_option("select[name=missing]", "SKILL_1X")
    await page.click("#filters button[type=submit]")
    await page.wait_for_url("**missing=SKILL_1X**")
    rows = await page.locator("#students tr").all_inner_texts()
    assert any(students["SCH001"] in r for r in rows)
    assert int(await page.inner_text("#total")) == len(rows) - 1
    skill = page.locator("#progress tr[data-code=SKILL_1X]")
    assert (await skill.inner_text()).strip().startswith("职业技能等级证书")
    assert "0 /" in await skill.inner_text()


async def test_another_schools_student_is_404(page, gateway, students) -> None:
    await _login(page, gateway)
    response = await page.goto(f"{gateway.url}/ui/students/{students['SCH002']}")
    assert response is not None and response.status == 404
    assert "未找到该记录" in await page.inner_text("main")
    text = await page.inner_text("main")
    assert "C2024-01" not in text and "张三" not in text, "nothing of the record is shown"


def _as_rows(students: list[dict[str, Any]]) -> list[list[str]]:
    """The JSON list as the export writes it: booleans in words, missing codes by spaces."""
    shown = {True: "true", False: "false", None: ""}
    return [
        [
            s["student_id"],
            s["name"],
            s["class_id"],
            str(s["cohort"]),
            s["status"],
            shown[s["eligible"]],
            " ".join(s["missing"]),
        ]
        for s in students
    ]


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, for Excel"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx_rows(body: bytes) -> list[list[str]]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return [["" if c is None else str(c) for c in row] for row in sheet.values]


@pytest.mark.parametrize("query", ["", "&cohort=2023&missing=SKILL_1X&eligible=false"])
async def test_the_api_exports_the_list_as_csv_and_xlsx(gateway, students, query) -> None:
    headers = gateway.headers("counselor-1")
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers) as client:
        listed = await client.get(f"/v1/schools/SCH001/graduation?page_size=500{query}")
        assert listed.status_code == 200
        expected = _as_rows(listed.json()["students"])
        assert [students["SCH001"]] == [r[0] for r in expected if r[0] == students["SCH001"]]
        # page_size=1: the export still holds every page
        as_csv = await client.get(f"/v1/schools/SCH001/graduation?format=csv&page_size=1{query}")
        assert as_csv.status_code == 200
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in as_csv.headers["content-disposition"]
        rows = _csv_rows(as_csv.content)
        assert rows[0] == ["student_id", "name", "class_id", "cohort", "status", "eligible",
                           "missing"]  # fmt: skip
        assert rows[1:] == expected
        as_xlsx = await client.get(f"/v1/schools/SCH001/graduation?format=xlsx{query}")
        assert as_xlsx.status_code == 200
        assert _xlsx_rows(as_xlsx.content) == rows


async def test_an_export_is_access_logged_and_scoped_to_the_school(gateway, students) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        mine = gateway.headers("counselor-1")
        other = await client.get("/v1/schools/SCH002/graduation?format=csv", headers=mine)
        assert other.status_code == 404
        assert students["SCH002"].encode() not in other.content
        theirs = await client.get("/v1/schools/SCH002/graduation?format=xlsx", headers=mine)
        assert theirs.status_code == 404
        bad = await client.get("/v1/schools/SCH001/graduation?format=pdf", headers=mine)
        assert bad.status_code == 422
        done = await client.get("/v1/schools/SCH001/graduation?format=csv", headers=mine)
        assert done.status_code == 200
        log = await client.get(
            f"/v1/students/{students['SCH001']}/access-log", headers=gateway.headers("admin")
        )
        exports = [a for a in log.json() if a["action"] == "export"]
        assert any(a["request_id"] == done.headers["x-request-id"] for a in exports)
        assert all(a["school_id"] == "SCH001" and a["role"] == "counselor" for a in exports)


async def test_the_class_page_downloads_its_filtered_list(page, gateway, students) -> None:
    await _login(page, gateway)
    await page.goto(f"{gateway.url}/ui/schools/SCH001?cohort=2023&missing=SKILL_1X")
    shown = [
        (await row.locator("th").inner_text()).split()[0]
        for row in await page.locator("#students tr:has(td)").all()
    ]
    assert students["SCH001"] in shown
    csv_link = page.locator("#export-csv")
    assert await csv_link.inner_text() == "下载 CSV"
    assert "cohort=2023" in (await csv_link.get_attribute("href") or "")
    assert "missing=SKILL_1X" in (await csv_link.get_attribute("href") or "")
    assert await page.inner_text("#export-xlsx") == "下载 Excel"
    for link, read in (("#export-csv", _csv_rows), ("#export-xlsx", _xlsx_rows)):
        async with page.expect_download() as info:
            await page.click(link)
        download = await info.value
        rows = read(await asyncio.to_thread(Path(await download.path()).read_bytes))
        assert [r[0] for r in rows[1:]] == shown
        assert all("SKILL_1X" in r[6] for r in rows[1:])


def _raw_codes(text: str) -> list[str]:
    """Codes of the message catalogue that appear as such in a page's text."""
    codes = {code for group in messages.GROUPS.values() for code in group}
    return sorted(c for c in codes if re.search(rf"(?<![\w.-]){re.escape(c)}(?![\w.-])", text))


async def test_the_chinese_pages_say_codes_in_words(page, gateway, students) -> None:
    await _login(page, gateway)
    await page.goto(f"{gateway.url}/ui/students/{students['SCH001']}")
    text = await page.inner_text("body")
    assert _raw_codes(text) == [], text
    for words in ("班主任", "岗位实习", "已完成", "合格", "取得证书", "实习开始", "在籍"):
        assert words in text, words
    await page.goto(f"{gateway.url}/ui/schools/SCH001?cohort=2023")
    # The flag column shows each rule code on purpose, next to its sentence: not counted.
    await page.evaluate("document.querySelectorAll('code.rule').forEach(e => e.remove())")
    text = await page.inner_text("body")
    assert _raw_codes(text) == [], text


async def test_switching_language_keeps_the_filters(page, gateway, students) -> None:
    await _login(page, gateway)
    await page.goto(f"{gateway.url}/ui/schools/SCH001?cohort=2023&missing=SKILL_1X")
    await page.click("#lang")
    await page.wait_for_url("**lang=en**")
    assert "cohort=2023" in page.url and "missing=SKILL_1X" in page.url
    assert await page.input_value("input[name=cohort]") == "2023"
    assert await page.inner_text("#export-csv") == "Download CSV"
    await page.click("#lang")
    await page.wait_for_url("**lang=zh**")
    assert "cohort=2023" in page.url and "missing=SKILL_1X" in page.url
    assert await page.inner_text("#export-csv") == "下载 CSV"


# Every page of the dashboard, as a path (None: a page reached by clicking, see below).
PAGES = ("login", "search", "student", "class", "school", "schools", "error-404", "error-422")


def _path(where: str, students: dict[str, str]) -> str:
    return {
        "login": "/",
        "search": f"/ui/search?q={students['SCH001'][:3]}",
        "student": f"/ui/students/{students['SCH001']}",
        "class": "/ui/schools/SCH001?class_id=C2024-01",
        "school": "/ui/schools/SCH001",
        "schools": "/ui/schools",
        "error-404": "/ui/no-such-page",
        "error-422": "/ui/schools/SCH001?page_no=abc",
    }[where]


@pytest.mark.parametrize("where", PAGES)
async def test_every_page_fits_a_phone_and_passes_axe(browser, gateway, students, where) -> None:
    """At 1280 and 375 px: a screenshot each (test-artifacts/<page>-<width>.png), no
    horizontal scroll on the phone, and no serious or critical axe-core finding."""
    for width in (1280, 375):
        context = await browser.new_context(
            viewport={"width": width, "height": 900}, bypass_csp=True
        )
        shown = await context.new_page()
        try:
            if where != "login":
                await _login(shown, gateway, "bureau" if where == "schools" else "counselor-1")
            answer = await shown.goto(gateway.url + _path(where, students))
            assert answer is not None
            assert answer.status == (int(where[-3:]) if where.startswith("error") else 200)
            ARTIFACTS.mkdir(exist_ok=True)
            await shown.screenshot(path=str(ARTIFACTS / f"{where}-{width}.png"), full_page=True)
            scroll = await shown.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{where} is {scroll} px wide at {width} px"
            # The header keeps its title on one line, whatever the width; the language
            # link is there (behind the menu on a phone).
            title = await shown.locator("header .brand").bounding_box()
            assert title is not None and title["height"] < 40
            if width == 375:
                await shown.click(".menu-button")
            assert await shown.locator("#lang").is_visible()
            assert await serious_violations(shown) == [], f"{where} at {width} px"
        finally:
            await context.close()


async def test_on_a_phone_rows_are_cards_with_what_is_missing_first(
    browser, gateway, students
) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 812})
    phone = await context.new_page()
    try:
        await _login(phone, gateway)
        # The header folds its links behind the menu button.
        assert not await phone.locator("header nav").is_visible()
        await phone.click(".menu-button")
        assert await phone.locator("header nav a[href='/ui/search']").is_visible()
        await phone.goto(f"{gateway.url}/ui/schools/SCH001?cohort=2023")
        card = phone.locator(f"#students tr.student[data-student={students['SCH001']}]")
        box = await card.bounding_box()
        assert box is not None and box["width"] <= 375
        name = await card.locator("th").bounding_box()
        missing = await card.locator("td.reqs").bounding_box()
        klass = await card.locator("td").first.bounding_box()
        assert name and missing and klass
        assert name["y"] < missing["y"] < klass["y"], "the missing items come right after the name"
        assert "职业技能等级证书" in await card.locator("td.reqs").inner_text()
    finally:
        await context.close()


async def test_the_class_list_pages_and_clamps(page, gateway, students) -> None:
    other = f"P{uuid.uuid4().hex[:8]}"
    event = enrolled(other) | {"source": "sis/SCH001", "schoolid": "SCH001"}
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        sent = await client.post(
            "/v1/events",
            json=event,
            headers={"content-type": "application/cloudevents+json", **gateway.headers("sis-1")},
        )
        assert sent.status_code == 202, sent.text

        async def total() -> int:
            r = await client.get(
                "/v1/schools/SCH001/graduation", headers=gateway.headers("counselor-1")
            )
            return int(r.json()["total"])

        n = await eventually(total, lambda t: t >= 2, timeout=60)
    await _login(page, gateway)
    await page.goto(f"{gateway.url}/ui/schools/SCH001?page_size=1&page_no=2")
    assert await page.locator("#students tr:has(td)").count() == 1
    assert await page.inner_text("#page-of") == f"第 2 页，共 {n} 页"
    await page.click("a[rel=prev]")
    await page.wait_for_url("**page_no=1**")
    assert "page_size=1" in page.url
    assert await page.locator("#students tr:has(td)").count() == 1
    assert await page.locator("a[rel=prev]").count() == 0
    # Past the end: the last page, with its rows, not an empty table.
    await page.goto(f"{gateway.url}/ui/schools/SCH001?page_size=1&page_no=999")
    assert await page.inner_text("#page-of") == f"第 {n} 页，共 {n} 页"
    assert await page.locator("#students tr:has(td)").count() == 1
    assert await page.locator("a[rel=next]").count() == 0


async def test_search_is_labelled_live_and_literal(page, gateway, students) -> None:
    await _login(page, gateway)
    box = page.get_by_label("学号或姓名")
    assert await box.get_attribute("name") == "q"
    assert await page.get_attribute("#results", "aria-live") == "polite"
    await box.fill(students["SCH001"])
    await page.wait_for_selector("#results th[scope=row]")
    assert await page.locator("#results th[scope=col]").count() == 4
    for wildcard in ("%", "_"):
        async with page.expect_response("**/ui/search?q=*") as answer:
            await box.fill(wildcard)
        await answer.value
        assert await page.locator("#results a").count() == 0, wildcard
    await page.goto(f"{gateway.url}/ui/schools/SCH001")
    assert await page.locator("#students th[scope=col]").count() == 6
    assert await page.locator("#students th[scope=row]").count() >= 1
    assert await page.locator("#progress th[scope=row]").count() == 6


async def test_bad_addresses_are_pages_with_a_way_home(page, gateway, students) -> None:
    await _login(page, gateway)
    huge = "9" * 25
    answer = await page.goto(f"{gateway.url}/ui/schools/SCH001?page_no={huge}&page_size=0")
    assert answer is not None and answer.status == 200
    pages = (await page.inner_text("#page-of")).split()
    assert pages[1] == pages[-2], "a page past the end is the last page"
    for path in ("/ui/schools/SCH001?cohort=99999", "/ui/schools/SCH001?page_no=2x"):
        answer = await page.goto(gateway.url + path)
        assert answer is not None and answer.status == 422
        assert "地址中的参数有误" in await page.inner_text("main")
    answer = await page.goto(f"{gateway.url}/ui/no-such-page")
    assert answer is not None and answer.status == 404
    await page.click("#home")
    await page.wait_for_url("**/ui/search")


async def test_an_expired_session_sends_htmx_to_the_login(page, gateway, students) -> None:
    await _login(page, gateway)
    # Idle past the 30 minutes: the next search (an htmx request) finds no session.
    await fetch(
        gateway.domain.url,
        "UPDATE gateway.sessions SET seen_at = now() - interval '31 minutes'"
        " WHERE ended_at IS NULL",
    )
    async with page.expect_navigation():
        await page.fill("input[name=q]", students["SCH001"][:4])
    await page.wait_for_selector("input[name=token]")
    assert page.url.rstrip("/") == gateway.url
    assert await page.locator("#results").count() == 0, "not a login nested in the results"


async def test_search_says_how_many_it_shows_of_how_many(page, gateway, students) -> None:
    prefix = f"S{uuid.uuid4().hex[:5]}"
    school = {"source": "sis/SCH001", "schoolid": "SCH001"}
    events = [enrolled(f"{prefix}{n:02d}", name="搜索同学") | school for n in range(21)]
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        sent = await client.post(
            "/v1/events",
            json=events,
            headers={
                "content-type": "application/cloudevents-batch+json",
                **gateway.headers("sis-1"),
            },
        )
        assert sent.status_code == 202, sent.text

        async def known() -> int:
            r = await client.get(f"/v1/students/{prefix}20", headers=gateway.headers("counselor-1"))
            return r.status_code

        await eventually(known, lambda status: status == 200, timeout=60)
    await _login(page, gateway)
    await page.fill("input[name=q]", prefix)
    await page.wait_for_selector("#showing")
    assert await page.inner_text("#showing") == "显示 20 条，共 21 条"
    assert await page.locator("#results th[scope=row]").count() == 20
    await page.goto(f"{gateway.url}/ui/search?q={prefix}&lang=en")
    assert await page.inner_text("#showing") == "showing 20 of 21"


async def test_the_bureau_reaches_a_class_page(page, gateway, students) -> None:
    await _login(page, gateway, "bureau")
    await page.click("#schools-link")
    await page.click("#schools a:has-text('SCH001')")
    await page.wait_for_selector("#students")
    # The class filter offers the school's classes.
    options = await page.locator("select[name=class_id] option").all_inner_texts()
    assert "C2024-01" in options
    await page.select_option("select[name=class_id]", "C2024-01")
    await page.click("#filters button[type=submit]")
    await page.wait_for_url("**class_id=C2024-01**")
    assert students["SCH001"] in await page.inner_text("#students")
    await page.goto(f"{gateway.url}/ui/students/{students['SCH001']}")
    await page.click("#class-link")
    await page.wait_for_url("**/ui/schools/SCH001?class_id=C2024-01")


async def test_the_keyboard_focus_is_visible_and_skips_to_the_content(page, gateway, students):
    await _login(page, gateway)
    await page.goto(f"{gateway.url}/ui/schools/SCH001")
    await page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert await skip.evaluate("e => e === document.activeElement")
    box = await skip.bounding_box()
    assert box is not None and box["x"] >= 0, "the skip link shows itself when focused"
    await page.keyboard.press("Tab")
    outline = await page.evaluate(
        "getComputedStyle(document.activeElement).outlineStyle + ' '"
        " + getComputedStyle(document.activeElement).outlineWidth"
    )
    assert outline == "solid 3px", outline


async def test_the_learning_account_shows_its_lines_and_prints_as_a_transcript(
    page, gateway, students
) -> None:
    sid = students["SCH001"]
    await _login(page, gateway)
    await page.goto(f"{gateway.url}/ui/students/{sid}")
    # The lifecycle's three courses: 3,000 class hours, 1,700 of them practice, 172 credits.
    total = await page.inner_text("#credit-total")
    assert "172" in total and "56.7%" in total
    by_category = {
        await row.get_attribute("data-category"): await row.locator("td").inner_text()
        for row in await page.locator("#credits-by-category tr").all()
    }
    assert by_category == {"public-basic": "56", "professional": "76", "practice": "40"}
    assert await page.inner_text("#credits-by-source tr[data-source=course] td") == "172"
    assert "公共基础课" in await page.inner_text("#credits-by-category")
    # Every course line links to the event it came from, which the timeline shows.
    links = page.locator("#courses tr[data-event] a")
    assert await links.count() == 3
    for link in await links.all():
        href = await link.get_attribute("href") or ""
        assert href.startswith("#event-")
        assert await page.locator(f"#timeline tr[id='{href[1:]}']").count() == 1

    async with page.expect_navigation(url=f"**/ui/students/{sid}/learning-account") as nav:
        await page.click("#transcript-link")
    opened = await nav.value
    assert opened is not None
    request_id = await opened.header_value("x-request-id")
    assert "学习成绩单" in await page.inner_text("h1")
    assert await page.locator("#courses tr[data-event]").count() == 3
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        log = await client.get(f"/v1/students/{sid}/access-log", headers=gateway.headers("admin"))
    # The printed transcript leaves the system: its request is logged as an export.
    [logged] = [a for a in log.json() if a["request_id"] == request_id]
    assert (logged["action"], logged["outcome"], logged["role"]) == (
        "export",
        "allowed",
        "counselor",
    )
