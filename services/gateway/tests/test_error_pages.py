"""Every error on the dashboard is a page of the site with a way home; the API keeps its
JSON problems. In process, with a database that is gone (so the crash is real)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sanzheng_gateway.api import create_api
from sanzheng_gateway.web import mount_dashboard


def _no_database() -> None:
    raise ConnectionRefusedError("the database is not there")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async def ready() -> dict[str, bool]:
        return {}

    app = create_api(_no_database, lambda: None, ready)
    mount_dashboard(app, _no_database)
    # The server error middleware re-raises after answering: read the answer it sent.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as opened:
        yield opened


def _is_a_page_with_a_way_home(answer: httpx.Response) -> None:
    assert answer.headers["content-type"].startswith("text/html"), answer.text
    assert '<a id="home" href="/">返回首页</a>' in answer.text
    assert "<header>" in answer.text and "三证毕业" in answer.text


@pytest.mark.parametrize(
    ("path", "status", "words", "code"),
    [
        ("/ui/search", 500, "服务器内部错误", "INTERNAL_ERROR"),
        ("/ui/no-such-page", 404, "页面不存在", "NOT_FOUND"),
        ("/ui/schools/SCH001?page_no=abc", 422, "地址中的参数有误", "INVALID_INPUT"),
        ("/ui/schools/SCH001?page_no=-1", 422, "地址中的参数有误", "INVALID_INPUT"),
        ("/ui/schools/SCH001?cohort=99999", 422, "地址中的参数有误", "INVALID_INPUT"),
        ("/ui/schools/SCH001?page_size=1" + "0" * 40, 422, "地址中的参数有误", "INVALID_INPUT"),
        ("/ui/search?q=" + "x" * 300, 422, "地址中的参数有误", "INVALID_INPUT"),
    ],
)
async def test_an_error_is_a_page_of_the_site(
    client: httpx.AsyncClient, path: str, status: int, words: str, code: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == status
    _is_a_page_with_a_way_home(answer)
    assert words in answer.text
    assert f'<code id="error-code">{code}</code>' in answer.text
    # Even a crash, answered outside the middleware, carries the security headers.
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"


async def test_the_error_page_speaks_english_when_asked(client: httpx.AsyncClient) -> None:
    answer = await client.get("/ui/no-such-page?lang=en")
    assert answer.status_code == 404
    assert "No such page" in answer.text and "Back to the start page" in answer.text


async def test_the_api_keeps_its_json_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    invalid = await client.get("/v1/schools/SCH001/graduation?page=abc")
    assert invalid.status_code in (401, 422)
    assert invalid.headers["content-type"].startswith("application/json")
