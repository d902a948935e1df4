"""Finding 2 of issue 10: a national id could be rebuilt from one read. The masked form kept
the region code and the last four digits, and the same response carried the birth date:
exactly the missing middle, so one checksum-valid number was left.

Here an attacker with a bureau token and a counselor's dashboard session collects every
response about generated students (API status, decision, timeline, cohort list; dashboard
student page, search and cohort page) and, for each student, counts the checksum-valid
numbers consistent with everything shown. At least 1,000 must remain for every student."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta
from importlib import resources
from typing import Any

import httpx
import pytest
from stdnum.cn import ric, uscc

from sanzheng.synthetic import ProvinceGenerator
from sanzheng_gateway.queries import today
from sanzheng_shared.domain.school_year import age_on
from sanzheng_shared.testing import eventually
from tests.e2e.conftest import BATCH, RunningGateway

pytestmark = pytest.mark.slow
ENOUGH = 1000
STUDENTS = 24
# A masked national id, with whatever it keeps in clear: a region prefix (the old form,
# `110105********1234`) and the last four.
MASKED = re.compile(r"([0-9]{6})?\*{8,14}([0-9]{3}[0-9X])")
ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def region_codes() -> list[str]:
    """Every county-level code python-stdnum knows (its copy of the official list)."""
    codes: list[str] = []
    province = ""
    text = (resources.files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.match(r"\d{2} ", line):
            province = line[:2]
        elif found := re.match(r"\s+(\d{4}) ", line):
            codes.append(province + found.group(1))
    return codes


def candidates(shown: str, regions: list[str], on: date, enough: int = ENOUGH) -> int:
    """Checksum-valid numbers consistent with `shown` (every text served about a student),
    counted up to `enough`. What is shown narrows each part of the number:
    - the last four: the masked form, or nothing if no masked form is shown;
    - the birth date: any day shown in a response, kept if it fits a shown age; if no
      usable day is shown, every day consistent with the shown age;
    - the region: the masked form's prefix when it keeps one, else every region."""
    [(prefix, last_four)] = set(MASKED.findall(shown)) or {("", "")}
    ages = {int(a) for a in re.findall(r'"age":\s*(\d+)', shown)}
    ages |= {int(a) for a in re.findall(r"(?:年龄|Age)\s+(\d+)", shown)}
    if not ages or not last_four:
        return enough
    days = {date(*map(int, m)) for m in ISO_DAY.findall(shown) if _is_day(m)}
    window = [on - timedelta(days=n) for n in range(366 * (min(ages) + 1) + 1)]
    possible = [d for d in window if age_on(d, on) in ages]
    births = [d for d in possible if d in days] or possible
    found = 0
    for region in [prefix] if prefix else regions:
        for birth in births:
            body = f"{region}{birth:%Y%m%d}{last_four[:3]}"
            if ric.calc_check_digit(body) == last_four[3]:
                found += 1
                if found >= enough:
                    return found
    return found


def _is_day(parts: tuple[str, str, str]) -> bool:
    try:
        date(*map(int, parts))
    except ValueError:
        return False
    return True


async def _everything_shown(
    gateway: RunningGateway, dashboard: httpx.AsyncClient, sid: str, school: str, cohort: int
) -> str:
    bureau = gateway.headers("bureau")
    api = [
        f"/v1/students/{sid}",
        f"/v1/students/{sid}/graduation",
        f"/v1/students/{sid}/timeline",
        f"/v1/schools/{school}/graduation?cohort={cohort}&page_size=500",
    ]
    pages = [
        f"/ui/students/{sid}",
        f"/ui/students/{sid}?lang=en",
        f"/ui/search?q={sid}",
        f"/ui/schools/{school}?cohort={cohort}",
    ]
    texts = [(await dashboard.get(path, headers=bureau)).text for path in api]
    texts += [(await dashboard.get(path)).text for path in pages]
    return "\n".join(texts)


async def test_no_national_id_can_be_rebuilt_from_what_is_shown(gateway) -> None:
    generator = ProvinceGenerator(seed=10, schools=2, id_prefix=f"N{uuid.uuid4().hex[:4]}")
    students = list(generator.students(STUDENTS))
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for n, school in enumerate(("SCH001", "SCH002"), start=1):
            # Waivers are a principal's, through their own endpoint: not a school system's.
            events = [
                sub.event
                for s in students
                if s.school_id == school
                for sub in s.submissions
                if not sub.event["type"].startswith("requirement.")
            ]
            answer = await client.post(
                "/v1/events",
                content=json.dumps(events),
                headers={**BATCH, **gateway.headers(f"sis-{n}")},
            )
            assert answer.status_code == 202, answer.text

        async def masked() -> int:
            count = 0
            for s in students:
                r = await client.get(
                    f"/v1/students/{s.student_id}", headers=gateway.headers("bureau")
                )
                enrollment = r.json().get("enrollment") if r.status_code == 200 else None
                count += bool(enrollment and enrollment.get("national_id_masked"))
            return count

        await eventually(masked, lambda n: n == STUDENTS, timeout=120)

    national_ids = {
        s.student_id: sub.event["data"]["national_id"]
        for s in students
        for sub in s.submissions
        if sub.event["type"] == "student.enrolled"
    }
    await _never_stored_in_clear(gateway.domain.url, set(national_ids.values()))
    await _a_replay_with_another_key_changes_nothing(gateway.domain.url)
    regions = region_codes()
    assert len(regions) > 3000
    on = today()
    async with httpx.AsyncClient(base_url=gateway.url) as dashboard:
        login = await dashboard.get("/")
        csrf = login.text.split('name="csrf" value="')[1].split('"')[0]
        await dashboard.post(
            "/ui/login",
            data={"token": gateway.tokens["bureau"], "csrf": csrf},
            headers={"Origin": gateway.url},
        )
        for s in students:
            shown = await _everything_shown(gateway, dashboard, s.student_id, s.school_id, s.cohort)
            number = national_ids[s.student_id]
            # An employer's 统一社会信用代码 holds a region code too: public, and no one's id.
            people = re.sub(r"[0-9A-Z]{18}", lambda m: "" if uscc.is_valid(m[0]) else m[0], shown)
            assert number not in shown and number[:6] not in people
            assert s.birth_date.isoformat() not in shown, s.student_id
            assert MASKED.search(shown), "the counselor still sees the last four"
            count = candidates(shown, regions, on)
            assert count >= ENOUGH, (s.student_id, count)


async def _a_replay_with_another_key_changes_nothing(url: str) -> None:
    """The sealed numbers open only with the service's key: a replay run with another one
    stops and says why, instead of rebuilding the projection without those students."""
    import asyncio
    import base64

    from typer.testing import CliRunner

    from sanzheng.main import app
    from sanzheng_shared.settings import get_settings
    from sanzheng_shared.testing import fetch

    count = "SELECT count(*) AS n, count(national_id_hmac) AS ids FROM enrollment.students"
    before = (await fetch(url, count))[0]
    another = base64.urlsafe_b64encode(b"another key, thirty-two bytes!!!").decode()
    env = {"SANZHENG_DATABASE_URL": url, "SANZHENG_ID_ENCRYPTION_KEY": another}

    def replay() -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, ["replay", "enrollment", "--no-emit"], env=env)
        finally:
            get_settings.cache_clear()

    result = await asyncio.to_thread(replay)
    assert result.exit_code == 1, result.output
    assert "sealed with another key" in result.output and "nothing was changed" in result.output
    after = (await fetch(url, count))[0]
    assert dict(after) == dict(before) and before["ids"] > 0


async def _never_stored_in_clear(url: str, numbers: set[str]) -> None:
    """SPEC §8: stored encrypted. Every row of every service's tables, read as text, holds
    none of the numbers; the event log and the gateway's accepted events (kept to publish
    again) held them in clear before. The outboxes are left out: a row there is the message
    itself, on its way to the enrollment service."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema IN ('enrollment', 'internship', 'labor_education',"
            " 'certificates', 'credits', 'gateway') AND table_type = 'BASE TABLE'"
            " AND table_name <> 'outbox'"
        )
        assert len(tables) > 30
        logged = 0
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            rows = await conn.fetch(f"SELECT x::text AS v FROM {name} x")  # bytea as hex
            for r in rows:
                found = [n for n in numbers if n in r["v"] or n.encode().hex() in r["v"]]
                assert not found, f"{name} holds a national id in clear"
            logged += t["table_name"] == "event_log" and len(rows)
        assert logged, "the enrollments were logged"
    finally:
        await conn.close()


def test_the_count_finds_the_one_number_when_region_and_birth_date_are_shown() -> None:
    """The counting itself: what the gateway showed before is narrowed to one number."""
    number = "11010520080501123" + ric.calc_check_digit("11010520080501123")
    on = date(2025, 9, 1)
    before = f'{{"national_id_masked": "110105********{number[-4:]}", "birth_date":'
    before += f' "2008-05-01", "age": {age_on(date(2008, 5, 1), on)}}}'
    assert candidates(before, region_codes(), on) == 1
    after = f'{{"national_id_masked": "{"*" * 14}{number[-4:]}", "age": 17}}'
    assert candidates(after, region_codes(), on) >= ENOUGH
