"""Shared by the dashboard's browser tests: Debian's Chromium through Playwright (never a
downloaded browser), a logged-in page, axe-core (vendored in tests/e2e/vendor/) and the
screenshots in test-artifacts/."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.e2e.conftest import RunningGateway

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


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


@pytest.fixture(scope="module", name="browser")
async def browser_fixture() -> AsyncIterator[Browser]:
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


@pytest.fixture(name="page")
async def page_fixture(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    # bypass_csp: axe-core is injected as an inline script, which the CSP refuses otherwise.
    context = await browser.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)
    opened = await context.new_page()
    yield opened
    ARTIFACTS.mkdir(exist_ok=True)
    await opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    await context.close()


async def login(page: Page, gateway: RunningGateway, who: str = "counselor-1") -> None:
    await page.goto(gateway.url + "/")
    await page.fill("input[name=token]", gateway.tokens[who])
    await page.click("button[type=submit]")
    await page.wait_for_url("**/ui/search")


async def login_with(page: Page, base_url: str, token: str) -> None:
    await page.goto(base_url + "/")
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2 A/AA)."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values:"
        " ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
