"""The decision as of a past day, from what had OCCURRED by then (SPEC §2.6, §5.2).

Each fact has the day it happened in its data (a certificate's `issued_on`, an internship's
`end_on`, a labor month's `period_end`, the enrollment's `enrolled_on`, a waiver's
`granted_on`, …), which may be long before the day its event arrived. The student's
accepted events that had occurred by the end of `as_of` are folded with the certificates
service's own handlers (whatif.fold: no second copy of the rules) and decided with its pure
`decide` on that day, under the policies already in force then. The decisions announced at
the time stay the audit trail (`announced`); `differs` says when the two disagree on
eligibility or on a requirement being met (states and details follow the day).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from sanzheng_certificates.decisions import SCHOOL_TIME, explanation
from sanzheng_certificates.graduation import decide
from sanzheng_gateway import whatif
from sanzheng_shared.policy import PolicyBook

OCCURRED_ON = {
    "student.enrolled": "enrolled_on",
    "student.suspended": "on",
    "student.resumed": "on",
    "student.withdrawn": "on",
    "student.graduated": "on",
    "student.repeated_year": "on",
    "student.transferred": "on",
    "internship.started": "start_on",
    "internship.completed": "end_on",
    "internship.terminated": "on",
    "internship.cancelled": "on",
    "labor_education.completed": "period_end",
    "labor_education.exempted": "on",
    "certificate.earned": "issued_on",
    "certificate.revoked": "on",
    "requirement.waived": "granted_on",
    "requirement.waiver_revoked": "on",
    "credit.recognized": "on",
    "credit.revoked": "on",
}
"""The field of each event type that says on which day the fact happened."""

TERM = re.compile(r"^(\d{4})-([12])$")


def term_ends(term: str) -> date | None:
    """A course is completed when its term ends: `2025-1` (the first term of the school
    year 2025/26) on 31 January 2026, `2025-2` on 15 July 2026. Other labels: unknown."""
    found = TERM.match(term or "")
    if not found:
        return None
    year = int(found.group(1)) + 1
    return date(year, 1, 31) if found.group(2) == "1" else date(year, 7, 15)


def occurred_on(row: dict[str, Any]) -> date | None:
    """The day the fact happened; for a type without such a field, the event's time."""
    if row["type"] == "course.completed" and (ended := term_ends((row["data"] or {}).get("term"))):
        return ended
    field = OCCURRED_ON.get(row["type"])
    value = (row["data"] or {}).get(field) if field else None
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    when = row.get("time")
    return when.astimezone(SCHOOL_TIME).date() if isinstance(when, datetime) else None


def occurred_by(rows: list[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    return [r for r in rows if (on := occurred_on(r)) is not None and on <= day]


def policies_then(book: PolicyBook, day: date) -> PolicyBook:
    """The policy files already in force on `day` (a plan that came later did not apply)."""
    earlier = [p for p in book.policies if p.in_force.from_ <= day]
    return PolicyBook(earlier or book.policies)


def end_of(day: date) -> str:
    return datetime.combine(day, time(23, 59, 59), SCHOOL_TIME).isoformat()


def decision(
    book: PolicyBook, student: whatif.Student, rows: list[dict[str, Any]], day: date
) -> dict[str, Any]:
    then = policies_then(book, day)
    state = whatif.fold(whatif.accepted(occurred_by(rows, day), student), then)
    policy = whatif.choose_policy(then, state, student, None)
    decided = explanation(decide(state.record(student.student_id), policy, day))
    return decided | {"decided_at": end_of(day)}


def differs(occurred: dict[str, Any], announced: dict[str, Any] | None) -> bool:
    """Whether eligibility or any requirement's `met` differs (details and states follow
    the day, so they are not compared)."""
    if announced is None:
        return True
    met = {r["code"]: r["met"] for r in occurred["requirements"]}
    then = {r["code"]: r["met"] for r in announced["requirements"]}
    return occurred["eligible"] != announced["eligible"] or met != then
