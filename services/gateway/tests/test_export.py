"""The list export's file shapes: every page, the JSON list's columns, a BOM, no formulas."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from sanzheng_gateway import export

STUDENTS: list[dict[str, Any]] = [
    {
        "student_id": f"S{n:04d}",
        "name": "张三" if n % 2 else '=HYPERLINK("x")',
        "class_id": "C2023-01",
        "cohort": 2023,
        "status": "enrolled",
        "eligible": [True, False, None][n % 3],
        "missing": ["SKILL_1X", "LABOR_MONTH"] if n % 2 else [],
    }
    for n in range(1203)
]


async def test_every_page_is_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    async def cohort(conn: Any, school_id: str, *, page: int, page_size: int, **_: Any) -> Any:
        asked.append(page)
        start = (page - 1) * page_size
        return {"total": len(STUDENTS), "students": STUDENTS[start : start + page_size]}

    monkeypatch.setattr(export.queries, "cohort", cohort)
    found = await export.all_students(
        None, "SCH001", cohort=None, class_id=None, eligible=None, missing=None
    )
    assert found == STUDENTS
    assert asked == [1, 2, 3]


def test_csv_has_a_bom_the_columns_and_no_formulas() -> None:
    body = export.to_csv(STUDENTS[:3])
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == list(export.COLUMNS)
    assert rows[1] == ["S0000", '\'=HYPERLINK("x")', "C2023-01", "2023", "enrolled", "true", ""]
    assert rows[2] == [
        "S0001", "张三", "C2023-01", "2023", "enrolled", "false", "SKILL_1X LABOR_MONTH"
    ]  # fmt: skip
    assert rows[3][5] == ""  # no decision yet


def test_xlsx_holds_the_same_rows() -> None:
    book = load_workbook(io.BytesIO(export.to_xlsx(STUDENTS[:3])), read_only=True)
    values = [[c if c is not None else "" for c in row] for row in book.active.values]
    assert values[0] == list(export.COLUMNS)
    assert values[1:] == export.rows(STUDENTS[:3])


def test_the_file_name_is_safe() -> None:
    answer = export.response([], "csv", 'SCH"学校')
    disposition = answer.headers["content-disposition"]
    assert 'filename="graduation-SCH___.csv"' in disposition
    assert "filename*=UTF-8''graduation-SCH%22%E5%AD%A6%E6%A0%A1.csv" in disposition
