"""The class page's list (the counselor's worklist): every student of the filtered list with
the urgency of each requirement and the internship flags, the most urgent first.

The whole filtered list is loaded (a class is tens of students, a school some thousands) so
that sorting by urgency, the flag filter, the chart's counts and the export all see the same
rows in the same order; the page is a slice of it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sanzheng_gateway import urgency
from sanzheng_gateway.urgency import Urgency

# The program's length is in the enrollment event (default 3 years): read from the timeline
# rather than adding a column to the read model.
_LIST = """
SELECT s.student_id, s.name, s.class_id, s.cohort, s.status, d.eligible, d.missing,
       d.requirements,
       coalesce((SELECT (t.data->>'program_years')::int FROM timeline t
                 WHERE t.student_id = s.student_id AND t.type = 'student.enrolled'
                 ORDER BY t.seq DESC LIMIT 1), 3) AS program_years
FROM students s LEFT JOIN decisions d USING (student_id)
WHERE {condition}
"""

# The flags of each internship as last reported (a completion replaces the start's flags).
_FLAGS = """
SELECT DISTINCT ON (student_id, data->>'internship_id') student_id, data->'flags' AS flags
FROM timeline
WHERE student_id = ANY($1::text[])
  AND type IN ('internship.started', 'internship.completed', 'internship.terminated')
  AND data ? 'flags'
ORDER BY student_id, data->>'internship_id', time DESC NULLS LAST, seq DESC
"""


# The API list's columns, then the urgent requirements (`CODE:state`) and the flags' codes.
EXPORT_COLUMNS = (
    "student_id", "name", "class_id", "cohort", "status", "eligible", "missing", "urgent", "flags",
)  # fmt: skip


@dataclass
class Row:
    student_id: str
    name: str
    class_id: str
    cohort: int
    status: str
    eligible: bool | None
    missing: list[str]
    urgencies: list[Urgency]
    flags: list[str] = field(default_factory=list)  # rule codes, each once

    def as_export(self) -> dict[str, Any]:
        return {
            "student_id": self.student_id,
            "name": self.name,
            "class_id": self.class_id,
            "cohort": self.cohort,
            "status": self.status,
            "eligible": self.eligible,
            "missing": self.missing,
            "urgent": [f"{u.code}:{u.state}" for u in self.urgencies if u.state != "met"],
            "flags": self.flags,
        }


@dataclass(frozen=True)
class Filters:
    cohort: int | None = None
    class_id: str | None = None
    missing: str | None = None
    eligible: bool | None = None
    flag: str | None = None  # a rule code, or "any"


async def load(conn: Any, school_id: str, chosen: Filters, today: date) -> list[Row]:
    where = ["s.school_id = $1"]
    args: list[Any] = [school_id]
    for clause, value in (
        ("s.cohort = ${}", chosen.cohort),
        ("s.class_id = ${}", chosen.class_id),
        ("d.eligible = ${}", chosen.eligible),
        ("${} = ANY(d.missing)", chosen.missing),
    ):
        if value is not None:
            args.append(value)
            where.append(clause.format(len(args)))
    records = await conn.fetch(_LIST.format(condition=" AND ".join(where)), *args)
    rows = [
        Row(
            student_id=r["student_id"],
            name=r["name"],
            class_id=r["class_id"],
            cohort=r["cohort"],
            status=r["status"],
            eligible=r["eligible"],
            missing=list(r["missing"] or []),
            urgencies=urgency.of_student(
                json.loads(r["requirements"]) if r["requirements"] else [],
                r["cohort"],
                r["program_years"],
                today,
            ),
        )
        for r in records
    ]
    by_id = {row.student_id: row for row in rows}
    for f in await conn.fetch(_FLAGS, list(by_id)):
        for flag in json.loads(f["flags"]) or []:
            if flag.get("code") and flag["code"] not in by_id[f["student_id"]].flags:
                by_id[f["student_id"]].flags.append(flag["code"])
    if chosen.flag == "any":
        rows = [r for r in rows if r.flags]
    elif chosen.flag:
        rows = [r for r in rows if chosen.flag in r.flags]
    return sorted(rows, key=lambda r: urgency.sort_key(r.urgencies, r.student_id))


def state_counts(rows: list[Row], codes: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per requirement, how many listed students are in each state (the chart and the
    table under it). Codes the decisions name beyond `codes` follow in their order; codes
    no listed decision names are left out."""
    named = {u.code for r in rows for u in r.urgencies}
    # Only the requirements the listed students' policies hold them to (the default policy
    # has no DIPLOMA, the legacy one no ACADEMIC), in the usual order.
    seen = [c for c in codes if c in named] + [
        c for r in rows for u in r.urgencies if (c := u.code) not in codes
    ]
    counts = {c: dict.fromkeys(urgency.STATES, 0) for c in dict.fromkeys(seen)}
    for row in rows:
        for u in row.urgencies:
            counts[u.code][u.state] += 1
    return [{"code": c, **by_state, "of": sum(by_state.values())} for c, by_state in counts.items()]
