"""A school's graduation list as a file (SPEC §5.2 "Lists answer ?format=csv|xlsx"): the
columns of the JSON list, every page of it, as CSV (UTF-8 with a BOM, so that Excel reads the
Chinese names right) or as an .xlsx workbook (openpyxl). Used by the API and the dashboard.

Exporting shows every listed student's data: one access-log row per student, action
`export`. A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR at
the start) is written with a leading `'` (CSV injection)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import quote

from fastapi import Response

from sanzheng_gateway import queries

COLUMNS = ("student_id", "name", "class_id", "cohort", "status", "eligible", "missing")
FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PAGE = 500
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def all_students(
    conn: Any,
    school_id: str,
    *,
    cohort: int | None,
    class_id: str | None,
    eligible: bool | None,
    missing: str | None,
    state: str | None = None,
    sort: str = "class",
) -> list[dict[str, Any]]:
    """Every student of the filtered list, page after page (the list's own order)."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        result = await queries.cohort(
            conn,
            school_id,
            cohort=cohort,
            class_id=class_id,
            eligible=eligible,
            missing=missing,
            page=page,
            page_size=_PAGE,
            state=state,
            sort=sort,
        )
        found.extend(result["students"])
        if not result["students"] or len(found) >= result["total"]:
            return found
        page += 1


def _cell(value: Any) -> str | int:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):  # an approver, an event's data: as JSON, one cell
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def rows(
    students: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS
) -> list[list[str | int]]:
    return [[_cell(s[c]) for c in columns] for s in students]


def to_csv(students: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows(students, columns))
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(
    students: list[dict[str, Any]],
    columns: tuple[str, ...] = COLUMNS,
    sheet_name: str = "graduation",
) -> bytes:
    from openpyxl import Workbook  # a second of import: only when a workbook is asked for

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append(list(columns))
    for row in rows(students, columns):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def response(
    students: list[dict[str, Any]],
    fmt: str,
    school_id: str,
    columns: tuple[str, ...] = COLUMNS,
    kind: str = "graduation",
) -> Response:
    """Any list as a file named `<kind>-<id>.<fmt>` (the graduation list's columns unless
    others are given)."""
    name = f"{kind}-{school_id}.{fmt}"
    # The school id is checked (no control characters) but may hold non-ASCII: RFC 5987.
    ascii_name = "".join(ch if ch.isascii() and ch not in '"\\;' else "_" for ch in name)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    if fmt == "csv":
        body, media = to_csv(students, columns), "text/csv; charset=utf-8"
    else:
        body, media = to_xlsx(students, columns, kind), XLSX_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
