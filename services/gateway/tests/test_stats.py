"""The stats exports (issue 13): CSV in UTF-8 with a BOM and Excel, read back."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from sanzheng_gateway import stats

RESULT = {
    "filters": {},
    "as_of": None,
    "groups": [
        {
            "school_id": "SCH001",
            "major_code": "710201",
            "cohort": 2023,
            "grade": 4,
            "students": 3,
            "enrolled": 2,
            "decided": 2,
            "eligible": 1,
            "eligible_share": 0.5,
        }
    ],
    "requirements": [{"code": "SKILL_1X", "met": 1, "at_risk": 0, "overdue": 1, "of": 2}],
    "certificates": [{"title": "Web 前端开发", "level": "intermediate", "held": 1}],
    "internships": [{"kind": "post", "mode": "independent", "status": "completed", "count": 2}],
    "flags": [{"code": "INT_DURATION", "count": 1}],
    "labor": [{"outcome": "completed", "count": 2}],
    "waivers": [{"code": "LABOR_MONTH", "reason_category": "medical", "count": 1}],
}


def test_csv_has_a_bom_and_reads_back() -> None:
    body = stats.to_csv(RESULT)
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["section"] for r in table] == [
        "group",
        "requirement",
        "certificate",
        "internship",
        "flag",
        "labor",
        "waiver",
    ]
    assert table[0]["eligible_share"] == "0.5" and table[0]["grade"] == "4"
    assert table[1]["overdue"] == "1" and table[2]["title"] == "Web 前端开发"
    assert (table[3]["mode"], table[3]["status"], table[3]["count"]) == (
        "independent",
        "completed",
        "2",
    )
    assert (table[6]["code"], table[6]["reason_category"]) == ("LABOR_MONTH", "medical")


def test_xlsx_reads_back() -> None:
    book = load_workbook(io.BytesIO(stats.to_xlsx(RESULT)))
    sheet = book["stats"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == stats.COLUMNS
    column = {name: n for n, name in enumerate(stats.COLUMNS)}
    assert values[1][:5] == ("group", "SCH001", "710201", 2023, 4)
    assert values[2][column["code"]] == "SKILL_1X" and values[2][column["met"]] == 1
    assert values[7][column["reason_category"]] == "medical" and values[7][column["count"]] == 1
