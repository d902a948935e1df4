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
