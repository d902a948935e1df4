"""The counselors' dashboard in a real headless Chromium (Debian's, through Playwright):
log in with a token, find a student, see what is missing, filter a cohort, and get 404 for
another school's student. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.e2e.conftest import RunningGateway

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium() -> str:
    """Debian's chromium; installed here when missing (the suite sets up what it needs)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("chromium")
    if not found:
        raise RuntimeError("the browser tests need Debian's `chromium` (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=chromium(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    opened = await context.new_page()
    yield opened
    ARTIFACTS.mkdir(exist_ok=True)
    await opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    await context.close()


async def _login(page: Page, gateway: RunningGateway, who: str = "counselor-1") -> None:
    await page.goto(gateway.url + "/")
    await page.fill("input[name=token]", gateway.tokens[who])
    await page.click("button[type=submit]")
    await page.wait_for_url("**/ui/search")


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
    assert "0 of 1 at level junior" in await missing.inner_text()
    assert await page.locator("#timeline tr").count() == 6


async def test_english_labels_are_available(page, gateway, students) -> None:
    await _login(page, gateway)
    await page.goto(f"{gateway.url}/ui/students/{students['SCH001']}?lang=en")
    assert await page.inner_text("#verdict") == "Not yet eligible"


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
