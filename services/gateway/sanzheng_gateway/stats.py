"""Figures for the bureau (SPEC §5.2 `GET /v1/stats`, issue 13): a few aggregate queries
over the gateway's read model (students, decisions, decision history, timeline), each on
an indexed column, and their CSV and Excel forms.

- `groups`: students by school, major and cohort (with its grade, the school year it is
  in on the day asked: 1 for the first), all of them, those enrolled (not withdrawn,
  graduated or suspended), the eligible, and the eligible share of those with a decision;
- `requirements`: per requirement code, how many students with a decision meet it, and
  how many are at risk and overdue;
- `certificates`: 1+X skill certificates held (not revoked) by title and level;
- `internships`: internships by kind, mode and status (the latest event of each);
- `flags`: the rule codes flagged on internships not cancelled, and on how many;
- `labor`: students by labor-month outcome (completed, exempted, failed, not recorded);
- `waivers`: waivers in force by requirement and reason category.

`as_of` answers from the decision history (the latest decision announced by the end of
that day) and from students enrolled by then; the other sections from the timeline's
events that had happened by then (their `time`).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sanzheng_shared.domain.school_year import school_year_of

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
    """Every section from one snapshot (a read-only repeatable-read transaction), so the
    sections of one answer add up; with room to sort a city's rows in memory."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute("SET LOCAL work_mem = '64MB'")
        return await _figures(conn, filters, as_of)


async def _figures(conn: Any, filters: dict[str, Any], as_of: date | None) -> dict[str, Any]:
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
               count(*) FILTER (WHERE r->>'state' = 'at_risk') AS at_risk,
               count(*) FILTER (WHERE r->>'state' = 'overdue') AS overdue,
               count(*) AS of
        FROM students s JOIN d USING (student_id),
             jsonb_array_elements(d.requirements) r
        WHERE {where}
        GROUP BY 1 ORDER BY 1""",
        *args,
    )
    # The timeline's sections: events that had happened by the end of the day asked ($n).
    day = as_of or datetime.now(UTC).date()
    timeline_args = [*args[: len(args) - (1 if as_of is not None else 0)], _end_of(as_of)]
    arrived = f"(t.time IS NULL OR t.time < ${len(timeline_args)})"
    certificates = await conn.fetch(
        f"""SELECT t.data->>'title' AS title, t.data->>'level' AS level, count(*) AS held
        FROM students s JOIN timeline t USING (student_id)
        WHERE {where} AND {arrived} AND t.type = 'certificate.earned'
          AND t.data->>'kind' = 'skill'
          AND NOT EXISTS (
            SELECT 1 FROM timeline v
            WHERE v.student_id = t.student_id AND v.type = 'certificate.revoked'
              AND v.data->>'certificate_no' = t.data->>'certificate_no'
              AND (v.time IS NULL OR v.time < ${len(timeline_args)}))
        GROUP BY 1, 2 ORDER BY 1, 2""",
        *timeline_args,
    )
    # Each internship once, as its events left it (kind and mode from its start).
    placements = await conn.fetch(
        f"""WITH rows AS ({_internship_rows(where, arrived)}),
        started AS (
            SELECT DISTINCT ON (id) id, data->>'kind' AS kind, data->>'mode' AS mode
            FROM rows WHERE type = 'internship.started' ORDER BY id, seq DESC),
        latest AS (
            SELECT DISTINCT ON (id) id, type, data->'flags' AS flags
            FROM rows ORDER BY id, {_CLOSING_FIRST}, seq DESC)
        SELECT 'internship' AS section, coalesce(st.kind, 'post') AS kind, st.mode,
               substr(l.type, length('internship.') + 1) AS status, NULL AS code,
               count(*) AS count
        FROM latest l LEFT JOIN started st USING (id)
        GROUP BY 2, 3, 4
        UNION ALL
        SELECT 'flag', NULL, NULL, NULL, f->>'code', count(DISTINCT l.id)
        FROM latest l, jsonb_array_elements(coalesce(l.flags, '[]')) f
        WHERE l.type <> 'internship.cancelled'
        GROUP BY 5
        ORDER BY 1, 2, 3 NULLS FIRST, 4, 5""",
        *timeline_args,
    )
    internships = [
        {k: p[k] for k in ("kind", "mode", "status", "count")}
        for p in placements
        if p["section"] == "internship"
    ]
    flags = [{"code": p["code"], "count": p["count"]} for p in placements if p["section"] == "flag"]
    labor = await conn.fetch(
        f"""SELECT outcome, count(*) AS count FROM (
            SELECT CASE
                WHEN bool_or(t.type = 'labor_education.completed'
                             AND t.data->>'evaluation' IS DISTINCT FROM 'fail') THEN 'completed'
                WHEN bool_or(t.type = 'labor_education.exempted') THEN 'exempted'
                WHEN bool_or(t.type = 'labor_education.completed') THEN 'failed'
                ELSE 'not_recorded' END AS outcome
            FROM students s LEFT JOIN timeline t
              ON t.student_id = s.student_id AND {arrived}
             AND t.type IN ('labor_education.completed', 'labor_education.exempted')
            WHERE {where}
            GROUP BY s.student_id) o
        GROUP BY 1 ORDER BY 1""",
        *timeline_args,
    )
    timeline_args.append(day)
    waivers = await conn.fetch(
        f"""WITH w AS (
            SELECT t.type, t.event_id, t.data FROM students s JOIN timeline t USING (student_id)
            WHERE {where} AND {arrived} AND t.type IN
              ('requirement.waived', 'requirement.waiver_revoked', 'labor_education.exempted'))
        SELECT coalesce(data->>'requirement', 'LABOR_MONTH') AS code,
               coalesce(data->>'reason_category', 'other') AS reason_category,
               count(*) AS count
        FROM w
        WHERE type <> 'requirement.waiver_revoked'
          AND coalesce(data->>'waiver_id', event_id) NOT IN (
              SELECT data->>'waiver_id' FROM w WHERE type = 'requirement.waiver_revoked')
          AND (data->>'expires_on' IS NULL
               OR (data->>'expires_on')::date >= ${len(timeline_args)})
        GROUP BY 1, 2 ORDER BY 1, 2""",
        *timeline_args,
    )
    this_year = school_year_of(day)
    return {
        "filters": {k: v for k, v in filters.items() if v is not None},
        "as_of": as_of.isoformat() if as_of else None,
        "groups": [
            dict(g)
            | {
                "grade": this_year - g["cohort"] + 1,
                "eligible_share": _share(g["eligible"], g["decided"]),
            }
            for g in groups
        ],
        "requirements": [dict(r) for r in requirements],
        "certificates": [dict(c) for c in certificates],
        "internships": internships,
        "flags": flags,
        "labor": [dict(x) for x in labor],
        "waivers": [dict(w) for w in waivers],
    }


INTERNSHIP_TYPES = (
    "'internship.started', 'internship.completed', 'internship.terminated',"
    " 'internship.cancelled', 'internship.expired'"
)


# Events reach the gateway in any order (SPEC §4.3): an end outranks an expiry, which
# outranks the start, whichever arrived last.
_CLOSING_FIRST = "(type = 'internship.started'), (type = 'internship.expired')"


def _internship_rows(where: str, arrived: str) -> str:
    return f"""SELECT t.seq, t.type, t.data, t.data->>'internship_id' AS id
        FROM students s JOIN timeline t USING (student_id)
        WHERE {where} AND {arrived} AND t.type IN ({INTERNSHIP_TYPES})"""


def _end_of(as_of: date | None) -> datetime:
    """The end of the day asked (UTC midnight after it), or far in the future."""
    if as_of is None:
        return datetime(9999, 1, 1, tzinfo=UTC)
    return datetime.combine(as_of + timedelta(days=1), datetime.min.time(), UTC)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


COLUMNS = (
    "section",
    "school_id",
    "major_code",
    "cohort",
    "grade",
    "code",
    "title",
    "level",
    "kind",
    "mode",
    "status",
    "outcome",
    "reason_category",
    "students",
    "enrolled",
    "decided",
    "eligible",
    "eligible_share",
    "met",
    "at_risk",
    "overdue",
    "of",
    "held",
    "count",
)
SECTIONS = {
    "groups": "group",
    "requirements": "requirement",
    "certificates": "certificate",
    "internships": "internship",
    "flags": "flag",
    "labor": "labor",
    "waivers": "waiver",
}


def rows(result: dict[str, Any]) -> list[list[Any]]:
    """One table: a row per figure, its section first."""
    out = []
    for section, label in SECTIONS.items():
        for item in result[section]:
            out.append([label] + [item.get(c) for c in COLUMNS[1:]])
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
