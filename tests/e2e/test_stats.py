"""GET /v1/stats (issue 13): the bureau sees every school, a school's roles their own;
CSV (UTF-8 with a BOM) and Excel exports read back."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from openpyxl import load_workbook

pytestmark = pytest.mark.slow


async def test_the_bureau_sees_every_school_a_counselor_their_own(gateway, students) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        everyone = await client.get(
            "/v1/stats", params={"cohort": 2023}, headers=gateway.headers("bureau")
        )
        assert everyone.status_code == 200, everyone.text
        body = everyone.json()
        schools = {g["school_id"] for g in body["groups"]}
        assert {"SCH001", "SCH002"} <= schools
        [group] = [
            g for g in body["groups"] if g["school_id"] == "SCH001" and g["major_code"] == "660701"
        ]
        assert group["students"] >= 1 and group["eligible"] == 0
        met = {r["code"]: r for r in body["requirements"]}
        assert met["SKILL_1X"]["met"] == 0 and met["ENROLLED"]["met"] >= 2

        own = await client.get("/v1/stats", headers=gateway.headers("counselor-1"))
        assert {g["school_id"] for g in own.json()["groups"]} == {"SCH001"}
        other = await client.get(
            "/v1/stats", params={"school": "SCH002"}, headers=gateway.headers("counselor-1")
        )
        assert other.status_code == 404
        sis = await client.get("/v1/stats", headers=gateway.headers("sis-1"))
        assert sis.status_code == 403
        long_ago = await client.get(
            "/v1/stats", params={"as_of": "2000-01-01"}, headers=gateway.headers("bureau")
        )
        assert long_ago.json()["requirements"] == []


async def test_stats_export_as_csv_and_xlsx(gateway, students) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("bureau")) as c:
        answer = await c.get("/v1/stats", params={"school": "SCH001", "format": "csv"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert {"group", "requirement"} <= {r["section"] for r in rows}
        assert {r["school_id"] for r in rows if r["section"] == "group"} == {"SCH001"}

        xlsx = await c.get("/v1/stats", params={"school": "SCH001", "format": "xlsx"})
        assert xlsx.status_code == 200
        sheet = load_workbook(io.BytesIO(xlsx.content))["stats"]
        values = list(sheet.iter_rows(values_only=True))
        assert values[0][0] == "section" and len(values) == len(rows) + 1


async def test_the_bureaus_figures_count_internships_labor_months_and_waivers(
    gateway, students
) -> None:
    """Issue 13's list: grade, each requirement's at-risk and overdue counts, internships by
    kind, mode and status, open flags, labor-month outcomes and waivers by reason."""
    from datetime import date, timedelta

    from sanzheng_shared.testing import eventually

    sid = students["SCH001"]
    waiver = {
        "requirement": "LABOR_MONTH",
        "reason_category": "medical",
        "reason": "术后康复",
        "expires_on": (date.today() + timedelta(days=200)).isoformat(),
        "evidence": "医院证明",
    }
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("bureau")) as c:
        granted = await c.post(f"/v1/students/{sid}/waivers", json=waiver)
        assert granted.status_code == 202, granted.text

        async def figures() -> dict:
            return (await c.get("/v1/stats", params={"school": "SCH001"})).json()

        def settled(b: dict) -> bool:  # the gateway's read model catches up
            return bool(b["waivers"]) and {i["status"] for i in b["internships"]} == {"completed"}

        body = await eventually(figures, settled, timeout=60)
        assert body["waivers"] == [
            {"code": "LABOR_MONTH", "reason_category": "medical", "count": 1}
        ]
        [group] = [g for g in body["groups"] if g["cohort"] == 2023]
        today = date.today()
        assert group["grade"] == (today.year if today.month >= 9 else today.year - 1) - 2022
        # The fixture's student completed a lawful post internship and the June month.
        assert {"kind": "post", "mode": "independent", "status": "completed", "count": 1} in body[
            "internships"
        ]
        assert {"outcome": "completed", "count": 1} in body["labor"]
        skill = next(r for r in body["requirements"] if r["code"] == "SKILL_1X")
        # Cohort 2023 graduated in June 2026: a skill certificate still missing is overdue.
        assert skill["met"] == 0 and skill["overdue"] == skill["of"] and skill["at_risk"] == 0

        # Long ago, nothing had happened yet.
        past = await c.get("/v1/stats", params={"school": "SCH001", "as_of": "2020-01-01"})
        assert past.json()["internships"] == [] and past.json()["waivers"] == []

        answer = await c.get("/v1/stats", params={"school": "SCH001", "format": "csv"})
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        sections = {r["section"] for r in rows}
        assert {"group", "requirement", "internship", "labor", "waiver"} <= sections
        [row] = [r for r in rows if r["section"] == "waiver"]
        assert (row["code"], row["reason_category"], row["count"]) == (
            "LABOR_MONTH",
            "medical",
            "1",
        )
