"""Figures for the bureau (SPEC §5.2 `GET /v1/stats`, issue 13): a few aggregate queries
over the gateway's read model (students, decisions, decision history, timeline), each on
an indexed column, and their CSV and Excel forms.

- `groups`: students by school, major and cohort: all of them, those enrolled (not
  withdrawn, graduated or suspended), the eligible, and the eligible share of those with
  a decision;
- `requirements`: per requirement code, how many students with a decision meet it;
- `certificates`: 1+X skill certificates held (not revoked) by title and level.

`as_of` answers from the decision history (the latest decision announced by the end of
that day) and from students enrolled by then.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

FILTERS = ("school_id", "major_code", "cohort")


def _where(filters: dict[str, Any], as_of: date | None) -> tuple[str, list[Any]]:
    clauses, args = ["true"], []
    for column in FILTERS:
        if filters.get(column) is not None:
            args.append(filters[column])
            clauses.append(f"s.{column} = ${len(args)}")
    if as_of is not None:
        args.append(as_of)
        clauses.append(f"(s.enrolled_on IS NULL OR s.enrolled_on <= ${len(args)})")
    return " AND ".join(clauses), args


def _decisions(as_of: date | None, n: int) -> str:
    """The decision per student now, or as of the end of a day (parameter $n)."""
    if as_of is None:
        return "SELECT student_id, eligible, requirements FROM decisions"
    return (
        "SELECT DISTINCT ON (student_id) student_id, eligible, requirements"
        f" FROM decision_history WHERE decided_at < ${n}"
        " ORDER BY student_id, decided_at DESC"
    )


async def figures(conn: Any, filters: dict[str, Any], as_of: date | None) -> dict[str, Any]:
    where, args = _where(filters, as_of)
    if as_of is not None:
        args = [*args, as_of + timedelta(days=1)]
    decisions = _decisions(as_of, len(args))
    groups = await conn.fetch(
        f"""WITH d AS ({decisions})
        SELECT s.school_id, s.major_code, s.cohort, count(*) AS students,
               count(*) FILTER (WHERE s.status = 'enrolled') AS enrolled,
               count(d.student_id) AS decided,
               count(*) FILTER (WHERE d.eligible) AS eligible
        FROM students s LEFT JOIN d USING (student_id)
        WHERE {where}
        GROUP BY s.school_id, s.major_code, s.cohort
        ORDER BY s.school_id, s.major_code NULLS LAST, s.cohort""",
        *args,
    )
    requirements = await conn.fetch(
        f"""WITH d AS ({decisions})
        SELECT r->>'code' AS code, count(*) FILTER (WHERE (r->>'met')::boolean) AS met,
               count(*) AS of
        FROM students s JOIN d USING (student_id),
             jsonb_array_elements(d.requirements) r
        WHERE {where}
        GROUP BY 1 ORDER BY 1""",
        *args,
    )
    cert_args = args[: len(args) - (1 if as_of is not None else 0)]
    certificates = await conn.fetch(
        f"""SELECT t.data->>'title' AS title, t.data->>'level' AS level, count(*) AS held
        FROM students s JOIN timeline t USING (student_id)
        WHERE {where} AND t.type = 'certificate.earned' AND t.data->>'kind' = 'skill'
          AND NOT EXISTS (
            SELECT 1 FROM timeline v
            WHERE v.student_id = t.student_id AND v.type = 'certificate.revoked'
              AND v.data->>'certificate_no' = t.data->>'certificate_no')
        GROUP BY 1, 2 ORDER BY 1, 2""",
        *cert_args,
    )
    return {
        "filters": {k: v for k, v in filters.items() if v is not None},
        "as_of": as_of.isoformat() if as_of else None,
        "groups": [
            dict(g) | {"eligible_share": _share(g["eligible"], g["decided"])} for g in groups
        ],
        "requirements": [dict(r) for r in requirements],
        "certificates": [dict(c) for c in certificates],
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


COLUMNS = (
    "section",
    "school_id",
    "major_code",
    "cohort",
    "code",
    "title",
    "level",
    "students",
    "enrolled",
    "decided",
    "eligible",
    "eligible_share",
    "met",
    "of",
    "held",
)


def rows(result: dict[str, Any]) -> list[list[Any]]:
    """One table: a row per figure, its section first."""
    out = []
    for section in ("groups", "requirements", "certificates"):
        for item in result[section]:
            out.append([section.rstrip("s")] + [item.get(c) for c in COLUMNS[1:]])
    return out


def to_csv(result: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(["" if v is None else v for v in row] for row in rows(result))
    return buffer.getvalue().encode("utf-8-sig")  # with a BOM: Excel reads it as UTF-8


def to_xlsx(result: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "stats"
    sheet.append(list(COLUMNS))
    for row in rows(result):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
