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
            "students": 3,
            "enrolled": 2,
            "decided": 2,
            "eligible": 1,
            "eligible_share": 0.5,
        }
    ],
    "requirements": [{"code": "SKILL_1X", "met": 1, "of": 2}],
    "certificates": [{"title": "Web 前端开发", "level": "intermediate", "held": 1}],
}


def test_csv_has_a_bom_and_reads_back() -> None:
    body = stats.to_csv(RESULT)
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["section"] for r in table] == ["group", "requirement", "certificate"]
    assert table[0]["eligible_share"] == "0.5" and table[2]["title"] == "Web 前端开发"


def test_xlsx_reads_back() -> None:
    book = load_workbook(io.BytesIO(stats.to_xlsx(RESULT)))
    sheet = book["stats"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == stats.COLUMNS
    assert values[1][:4] == ("group", "SCH001", "710201", 2023)
    assert values[2][4] == "SKILL_1X" and values[2][12] == 1
