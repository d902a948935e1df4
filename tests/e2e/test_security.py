"""Issue 10 against the running gateway: every finding as an attacker or a careless client
would meet it. Ingest is all or nothing and bounded; odd input is a 4xx with a code (never a
500); responses carry the security headers; every read of personal data is logged."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from sanzheng_shared.testing import enrolled, read_events
from tests.e2e.conftest import BATCH, STRUCTURED, RunningGateway

pytestmark = pytest.mark.slow


async def _gateway_rows(gateway: RunningGateway, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(gateway.domain.url)
    try:
        await conn.execute("SET search_path TO gateway")
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


# --- ingest -------------------------------------------------------------------------------


async def test_a_batch_with_one_unserialisable_event_publishes_nothing(gateway) -> None:
    """Finding 4: [valid, 300-deep attribute] answered 500 after publishing the first."""
    good = enrolled(f"G{uuid.uuid4().hex[:8]}")
    deep = enrolled(f"D{uuid.uuid4().hex[:8]}") | {"deep": json.loads("[" * 300 + "]" * 300)}
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:
        answer = await c.post("/v1/events", content=json.dumps([good, deep]), headers=BATCH)
    assert answer.status_code == 400
    assert answer.json()["code"] == "BAD_REQUEST"
    assert "deeper than" in answer.json()["detail"]
    topic = gateway.domain.topics.inbound("enrollment")
    published = await read_events(gateway.domain.settings.kafka_bootstrap or "", topic)
    assert good["id"] not in {e["id"] for e in published}


async def test_json_nested_5000_deep_is_a_400_with_a_code(gateway) -> None:
    body = "[" * 5000 + "]" * 5000
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:
        answer = await c.post("/v1/events", content=body, headers=STRUCTURED)
        numbers = await c.post("/v1/events", content="1" * 5000, headers=STRUCTURED)
    assert (answer.status_code, answer.json()["code"]) == (400, "BAD_REQUEST")
    assert (numbers.status_code, numbers.json()["code"]) == (400, "BAD_REQUEST")


async def test_another_schools_source_is_refused(gateway) -> None:
    """The (source, id) de-duplication key is the sender's own: SCH001 may not use sis/SCH002."""
    event = enrolled(f"S{uuid.uuid4().hex[:8]}") | {"source": "sis/SCH002"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:
        answer = await c.post("/v1/events", content=json.dumps(event), headers=STRUCTURED)
    assert answer.status_code == 422
    assert answer.json()["reasons"] == [
        {
            "code": "SOURCE_MISMATCH",
            "field": "source",
            "message": "this token publishes with source sis/SCH001 only",
        }
    ]


async def _raw_request(url: str, head: str, chunks: list[bytes]) -> bytes:
    """Send the head and some body, never the rest; return what the server answered."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.encode())
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        return await asyncio.wait_for(reader.read(4096), timeout=10)
    finally:
        writer.close()


async def test_a_declared_oversized_body_is_refused_before_it_is_sent(gateway) -> None:
    """Finding 5: 20 MiB were read into memory before the 413. Now the Content-Length alone
    gets the 413: the client sent 1 KiB of the 20 MiB it announced, and has its answer."""
    head = (
        "POST /v1/events HTTP/1.1\r\n"
        f"Host: {urlsplit(gateway.url).netloc}\r\n"
        f"Authorization: Bearer {gateway.tokens['sis-1']}\r\n"
        "Content-Type: application/cloudevents+json\r\n"
        f"Content-Length: {20 * 1024 * 1024}\r\n\r\n"
    )
    answer = await _raw_request(gateway.url, head, [b" " * 1024])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":"TOO_LARGE"' in answer


async def test_a_streamed_oversized_body_is_refused_while_it_streams(gateway) -> None:
    """Chunked, with no Content-Length: refused once 1 MiB has come in, not at the end."""
    head = (
        "POST /v1/events HTTP/1.1\r\n"
        f"Host: {urlsplit(gateway.url).netloc}\r\n"
        f"Authorization: Bearer {gateway.tokens['sis-1']}\r\n"
        "Content-Type: application/cloudevents+json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    answer = await _raw_request(gateway.url, head, [framed] * 20)  # 1.25 MiB, never ended
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# --- odd input: a 4xx with a code, never a 500 --------------------------------------------


@pytest.mark.parametrize(
    ("path", "who", "code"),
    [
        ("/v1/students/{sid}/graduation?as_of=9999-12-31", "counselor-1", "INVALID_INPUT"),
        ("/v1/students/{sid}/graduation?as_of=0001-01-01", "counselor-1", "INVALID_INPUT"),
        ("/v1/schools/SCH001/graduation?cohort=%C2%B2", "counselor-1", "INVALID_INPUT"),
        ("/v1/schools/SCH001/graduation?cohort=99999999999999999999", "bureau", "INVALID_INPUT"),
        ("/v1/schools/SCH%00001/graduation", "bureau", "SCHOOL_ID_INVALID"),
        ("/v1/students/A%00B", "counselor-1", "STUDENT_ID_INVALID"),
        ("/v1/students/A%00B/timeline", "bureau", "STUDENT_ID_INVALID"),
        ("/v1/students/A%00B/access-log", "admin", "STUDENT_ID_INVALID"),
    ],
)
async def test_odd_api_input_is_a_4xx_with_a_code(gateway, students, path, who, code) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers(who)) as c:
        answer = await c.get(path.format(sid=students["SCH001"]))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["code"] == code


async def test_a_nul_byte_in_a_student_id_is_still_logged(gateway) -> None:
    request_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        answer = await c.get(
            "/v1/students/X%00Y",
            headers={**gateway.headers("counselor-1"), "X-Request-ID": request_id},
        )
    assert answer.status_code == 422
    [row] = await _gateway_rows(
        gateway, "SELECT student_id, outcome FROM access_log WHERE request_id = $1", request_id
    )
    assert (row["student_id"], row["outcome"]) == ("X\\x00Y", "invalid_id")


async def test_a_refused_token_or_role_is_logged_too(gateway, students) -> None:
    """SPEC §8: every read of a student's record is logged, denials too. Before, a request
    refused for its role (403) or its token (401) left no row. (One with no token at all
    names nobody and is not logged: an anonymous flood must not fill the log.)"""
    sid = students["SCH001"]
    cases: list[tuple[str, str, int, str, str, str | None]] = [
        ("sis-1", f"/v1/students/{sid}", 403, "denied_role", "status", "sis"),
        ("bogus", f"/v1/students/{sid}/graduation", 401, "unauthenticated", "graduation", None),
    ]
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        for who, path, status, outcome, action, role in cases:
            request_id = str(uuid.uuid4())
            headers = {"X-Request-ID": request_id}
            if who == "bogus":
                headers["Authorization"] = "Bearer szk_c_not_a_token"
            else:
                headers |= gateway.headers(who)
            answer = await c.get(path, headers=headers)
            assert answer.status_code == status, answer.text
            [row] = await _gateway_rows(
                gateway,
                "SELECT student_id, outcome, action, role FROM access_log WHERE request_id = $1",
                request_id,
            )
            assert dict(row) == {
                "student_id": sid,
                "outcome": outcome,
                "action": action,
                "role": role,
            }


@asynccontextmanager
async def _dashboard(
    gateway: RunningGateway, who: str = "counselor-1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in dashboard client, the way a browser does it (CSRF token and origin)."""
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        login_page = await client.get("/")
        csrf = login_page.text.split('name="csrf" value="')[1].split('"')[0]
        answer = await client.post(
            "/ui/login",
            data={"token": gateway.tokens[who], "csrf": csrf},
            headers={"Origin": gateway.url},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/search"
        yield client


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/ui/schools/SCH001?page_no=1e20", "INVALID_INPUT"),
        ("/ui/schools/SCH001?page_no=" + "1" * 31, "INVALID_INPUT"),
        ("/ui/schools/SCH001?cohort=%C2%B2", "INVALID_INPUT"),
        ("/ui/schools/SCH001?cohort=99999999999999999999", "INVALID_INPUT"),
        ("/ui/search?q=%00", "QUERY_INVALID"),
        ("/ui/search?q=abc%00def", "QUERY_INVALID"),
        ("/ui/students/A%00B", "STUDENT_ID_INVALID"),
    ],
)
async def test_odd_dashboard_input_is_a_4xx_with_a_code(gateway, students, path, code) -> None:
    """A page of the site (the dashboard's error page) that names the stable code."""
    async with _dashboard(gateway) as client:
        answer = await client.get(path)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert f'<code id="error-code">{code}</code>' in answer.text


async def test_a_huge_page_number_is_the_last_page(gateway, students) -> None:
    async with _dashboard(gateway) as client:
        answer = await client.get("/ui/schools/SCH001?page_no=100000000000000000000")
    assert answer.status_code == 200
    assert 'rel="next"' not in answer.text


async def test_a_search_for_a_wildcard_finds_no_one(gateway, students) -> None:
    """`%` in the search text is a character, not LIKE's 'anything'."""
    async with _dashboard(gateway) as client:
        answer = await client.get("/ui/search", params={"q": "%"}, headers={"HX-Request": "1"})
    assert answer.status_code == 200 and students["SCH001"] not in answer.text


# --- headers -------------------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(gateway, students) -> None:
    sid = students["SCH001"]
    async with _dashboard(gateway) as client:
        responses = {
            "api": await client.get(f"/v1/students/{sid}", headers=gateway.headers("bureau")),
            "api 404": await client.get("/v1/students/nobody", headers=gateway.headers("bureau")),
            "api 401": await client.get(f"/v1/students/{sid}"),
            "page": await client.get(f"/ui/students/{sid}"),
            "cohort page": await client.get("/ui/schools/SCH001"),
            "login": await httpx.AsyncClient(base_url=gateway.url).get("/"),
            "static": await client.get("/static/htmx.min.js"),
            "docs": await client.get("/docs"),
        }
    for name, r in responses.items():
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["referrer-policy"] == "no-referrer", name
        assert r.headers["x-frame-options"] == "DENY", name
        if name != "static":
            assert r.headers["cache-control"] == "no-store", name


async def test_docs_load_nothing_from_another_origin(gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        docs = await client.get("/docs")
        assets = [
            await client.get(src)
            for src in ("/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-init.js")
        ]
        redoc = await client.get("/redoc")
    assert docs.status_code == 200 and "SwaggerUI" not in docs.text  # no inline script
    assert "http" not in docs.text.replace('charset="utf-8"', ""), "no CDN, no absolute URL"
    assert all(a.status_code == 200 for a in assets)
    assert redoc.status_code == 404  # FastAPI's ReDoc page loads from a CDN: gone


async def test_docs_can_be_turned_off(gateway) -> None:
    from sanzheng_gateway.api import create_api

    async def ready() -> dict[str, bool]:
        return {}

    app = create_api(lambda: None, lambda: None, ready, docs=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200


@pytest.mark.parametrize(
    ("supplied", "kept"),
    [
        ("0b1c6f8e-4f4e-4c47-9a1b-2a3c0f1d2b7e", True),
        ("batch-2026-06-01.7", True),
        ("x" * 65, False),
        ("a b", False),
        ("<script>", False),
    ],
)
async def test_x_request_id_is_kept_only_when_safe(gateway, supplied, kept) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        answer = await client.get("/healthz", headers={"X-Request-ID": supplied})
    echoed = answer.headers["x-request-id"]
    assert (echoed == supplied) is kept
    if not kept:
        assert len(echoed) == 32 and int(echoed, 16) >= 0


# --- audit ---------------------------------------------------------------------------------


async def test_lists_searches_and_access_log_reads_are_logged(gateway, students) -> None:
    sid = students["SCH001"]
    rid = {name: str(uuid.uuid4()) for name in ("cohort", "search", "page", "log")}
    async with _dashboard(gateway) as client:
        await client.get(
            "/v1/schools/SCH001/graduation",
            headers={**gateway.headers("counselor-1"), "X-Request-ID": rid["cohort"]},
        )
        await client.get("/ui/search", params={"q": sid}, headers={"X-Request-ID": rid["search"]})
        await client.get("/ui/schools/SCH001", headers={"X-Request-ID": rid["page"]})
        await client.get(
            f"/v1/students/{sid}/access-log",
            headers={**gateway.headers("admin"), "X-Request-ID": rid["log"]},
        )
    rows = await _gateway_rows(
        gateway,
        "SELECT request_id, action, student_id, role FROM access_log"
        " WHERE request_id = ANY($1::text[])",
        list(rid.values()),
    )
    seen = {(r["request_id"], r["action"], r["student_id"]) for r in rows}
    assert (rid["cohort"], "cohort_list", sid) in seen
    assert (rid["search"], "search", sid) in seen
    assert (rid["page"], "cohort_list", sid) in seen
    assert (rid["log"], "access_log", sid) in seen


async def test_the_access_log_refuses_truncate_update_and_delete(gateway) -> None:
    for sql in ("TRUNCATE access_log", "DELETE FROM access_log", "UPDATE access_log SET role = ''"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await _gateway_rows(gateway, sql)


# --- sessions and tokens -------------------------------------------------------------------


async def _login_form(client: httpx.AsyncClient) -> str:
    return (await client.get("/")).text.split('name="csrf" value="')[1].split('"')[0]


async def test_the_dashboard_cookie_is_a_session_not_the_token(gateway) -> None:
    async with _dashboard(gateway) as client:
        cookies = {c.name: c for c in client.cookies.jar}
        answer_cookie = cookies["sz_session"]
        assert gateway.tokens["counselor-1"] not in {c.value for c in client.cookies.jar}
        assert answer_cookie.has_nonstandard_attr("HttpOnly")
        assert answer_cookie.get_nonstandard_attr("SameSite") == "strict"
        assert not answer_cookie.secure  # plain http here; see the https test
        # The API does not take the dashboard's cookie as a credential.
        api = await client.get("/v1/schools/SCH001/graduation")
    assert api.status_code == 401


async def test_the_session_cookie_is_secure_over_https(gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        csrf = await _login_form(client)
        answer = await client.post(
            "/ui/login",
            data={"token": gateway.tokens["counselor-1"], "csrf": csrf},
            # A TLS-terminating proxy on this host says the browser used https.
            headers={
                "Origin": "https://" + urlsplit(gateway.url).netloc,
                "X-Forwarded-Proto": "https",
            },
        )
    set_cookie = " ".join(answer.headers.get_list("set-cookie"))
    assert answer.status_code == 303
    assert "sz_session=" in set_cookie and "Secure" in set_cookie


async def test_logout_ends_the_session_on_the_server(gateway, students) -> None:
    async with _dashboard(gateway) as client:
        stolen = client.cookies["sz_session"]
        page = await client.get("/ui/search")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        out = await client.post("/ui/logout", data={"csrf": csrf}, headers={"Origin": gateway.url})
        assert out.status_code == 303
    async with httpx.AsyncClient(base_url=gateway.url, cookies={"sz_session": stolen}) as c:
        again = await c.get(f"/ui/students/{students['SCH001']}")
    assert again.status_code == 303 and again.headers["location"] == "/"


@pytest.mark.parametrize(
    ("column", "age", "valid"),
    [
        ("seen_at", "29 minutes", True),
        ("seen_at", "31 minutes", False),  # idle for more than 30 minutes
        ("created_at", "11 hours 50 minutes", True),
        ("created_at", "12 hours 1 minute", False),  # older than 12 hours, however active
    ],
)
async def test_sessions_time_out(gateway, column, age, valid) -> None:
    async with _dashboard(gateway) as client:
        from sanzheng_gateway.sessions import _hash

        await _gateway_rows(
            gateway,
            f"UPDATE sessions SET {column} = now() - $2::text::interval WHERE id_hash = $1",
            _hash(client.cookies["sz_session"]),
            age,
        )
        answer = await client.get("/ui/search")
    assert (answer.status_code == 200) is valid


async def test_revoking_a_token_ends_its_sessions(gateway) -> None:
    from sanzheng_gateway import tokens

    conn = await asyncpg.connect(gateway.domain.url)
    await conn.execute("SET search_path TO gateway")
    token = await tokens.create(conn, "counselor", "SCH001")
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        csrf = await _login_form(client)
        await client.post(
            "/ui/login", data={"token": token, "csrf": csrf}, headers={"Origin": gateway.url}
        )
        assert (await client.get("/ui/search")).status_code == 200
        assert await tokens.revoke(conn, await tokens.id_of(conn, token) or "")
        assert (await client.get("/ui/search")).status_code == 303
    await conn.close()


@pytest.mark.parametrize(
    ("origin", "with_token"),
    [
        ("https://attacker.example", True),  # a foreign page posting our form
        (None, False),  # the token missing
        ("null", True),  # an opaque origin without Fetch Metadata
    ],
)
async def test_the_login_form_refuses_cross_site_posts(gateway, origin, with_token) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        csrf = await _login_form(client)
        headers = {"Origin": origin} if origin else {"Origin": gateway.url}
        answer = await client.post(
            "/ui/login",
            data={"token": gateway.tokens["counselor-1"], "csrf": csrf if with_token else ""},
            headers=headers,
        )
    assert answer.status_code == 403
    assert "sz_session" not in answer.headers.get("set-cookie", "")


async def test_an_expired_token_is_refused(gateway) -> None:
    from datetime import UTC, datetime, timedelta

    from sanzheng_gateway import tokens

    conn = await asyncpg.connect(gateway.domain.url)
    await conn.execute("SET search_path TO gateway")
    token = await tokens.create(conn, "counselor", "SCH001")
    soon = await tokens.create(
        conn, "counselor", "SCH001", expires_at=datetime.now(UTC) + timedelta(seconds=1)
    )
    await conn.execute(
        "UPDATE tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        tokens.digest(token),
    )
    await conn.close()
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        answer = await client.get(
            "/v1/schools/SCH001/graduation", headers={"Authorization": f"Bearer {token}"}
        )
        await asyncio.sleep(1.2)
        later = await client.get(
            "/v1/schools/SCH001/graduation", headers={"Authorization": f"Bearer {soon}"}
        )
    assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHENTICATED")
    assert later.status_code == 401


def test_token_create_expires_and_list_shows_it(gateway) -> None:
    """`sanzheng token create --expires`, then `token list`: the id (not a piece of the
    secret) and the expiry date."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "SANZHENG_DATABASE_URL": gateway.domain.url, "COLUMNS": "200"}
    run = [sys.executable, "-m", "sanzheng.main", "token"]
    created = subprocess.run(
        [*run, "create", "--role", "counselor", "--school", "SCH001", "--expires", "2099-01-02"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip()
    token_id = created.stderr.split("sanzheng token revoke ")[1].split("`")[0]
    listed = subprocess.run(
        [*run, "list"], env=env, capture_output=True, text=True, check=True
    ).stdout
    [line] = [row for row in listed.splitlines() if token_id in row]
    assert "2099-01-02" in line
    assert token_id.startswith("szk_c_id_")
    secret = token.removeprefix("szk_c_")
    assert not any(secret[i : i + 6] in token_id for i in range(len(secret) - 5))


async def test_failed_authentication_is_throttled_per_address(gateway) -> None:
    """An in-process gateway app, so that the client address can be chosen."""
    from sanzheng_gateway.api import create_api
    from sanzheng_gateway.throttle import FailureThrottle
    from sanzheng_shared.db.pool import create_pool

    async def ready() -> dict[str, bool]:
        return {}

    pool = await create_pool(gateway.domain.url, "gateway")
    app = create_api(lambda: pool, lambda: None, ready, throttle=FailureThrottle(limit=3))

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://gw")

    bad = {"Authorization": "Bearer szk_c_guess"}
    good = gateway.headers("counselor-1")
    async with client("10.0.0.7") as attacker, client("10.0.0.8") as neighbour:
        tries = [
            (await attacker.get("/v1/schools/SCH001/graduation", headers=bad)).status_code
            for _ in range(3)
        ]
        blocked = await attacker.get("/v1/schools/SCH001/graduation", headers=good)
        other = await neighbour.get("/v1/schools/SCH001/graduation", headers=good)
    await pool.close()
    assert tries == [401, 401, 401]
    assert blocked.status_code == 429 and blocked.json()["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(blocked.headers["retry-after"]) <= 300
    assert other.status_code == 200
