"""Reads of the gateway's read model, shaped as the HTTP API answers them."""

from __future__ import annotations

import functools
import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sanzheng_gateway.inputs import like_pattern
from sanzheng_shared.domain.school_year import age_on, grade_year

LOCAL = ZoneInfo("Asia/Shanghai")
# Never shown: with the masked national id it narrows the number to a handful (issue 10).
HIDDEN_FIELDS = frozenset({"birth_date"})
# The school list's orders: by class, or the most urgent first (overdue, then at risk, by
# the nearest due date; students without a decision last).
ORDERS = {
    "class": "s.class_id, s.student_id",
    "urgency": "d.urgency NULLS LAST, d.next_due NULLS LAST, s.class_id, s.student_id",
}
# Every requirement of the shipped policies (DIPLOMA only in the legacy one).
REQUIREMENTS = (
    "ENROLLED",
    "ACADEMIC",
    "DIPLOMA",
    "SKILL_1X",
    "QUALITY",
    "LABOR_MONTH",
    "INTERNSHIP",
)


async def student(conn: Any, student_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM students WHERE student_id = $1", student_id)
    return dict(row) if row else None


def today() -> date:
    return datetime.now(LOCAL).date()


def shown_enrollment(record: dict[str, Any], on: date | None = None) -> dict[str, Any]:
    """The enrollment as counselors see it: the age and the grade year instead of the birth
    date (the birth date, region code and last four digits rebuild a national id)."""
    on = on or today()
    birth = record.get("birth_date")
    shown = {k: v for k, v in record.items() if k not in HIDDEN_FIELDS}
    shown["age"] = age_on(birth, on) if isinstance(birth, date) else None
    shown["grade_year"] = grade_year(record["cohort"], on) if record.get("cohort") else None
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in shown.items()}


def shown_data(data: dict[str, Any]) -> dict[str, Any]:
    """An event's data as shown: no birth date, a masked id cut to its last four (rows
    stored before the masked form was shortened keep the region code)."""
    shown = {k: v for k, v in data.items() if k not in HIDDEN_FIELDS}
    if masked := shown.get("national_id_masked"):
        shown["national_id_masked"] = "*" * 14 + str(masked)[-4:]
    return shown


async def school_of(conn: Any, student_id: str) -> str | None:
    """The school the record belongs to, from the record itself (students; or decisions,
    events or held submissions of a student whose enrollment has not arrived)."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT coalesce((SELECT school_id FROM students WHERE student_id = $1),"
        " (SELECT school_id FROM decisions WHERE student_id = $1),"
        " (SELECT school_id FROM timeline WHERE student_id = $1 LIMIT 1),"
        " (SELECT school_id FROM held_submissions WHERE student_id = $1 LIMIT 1))",
        student_id,
    )


def _decision(row: Any) -> dict[str, Any]:
    return {
        "eligible": row["eligible"],
        "requirements": json.loads(row["requirements"]),
        "policy_version": row["policy_version"],
        "decided_at": row["decided_at"].isoformat(),
    }


async def graduation(
    conn: Any, student_id: str, as_of: date | None = None
) -> dict[str, Any] | None:
    if as_of is None:
        row = await conn.fetchrow("SELECT * FROM decisions WHERE student_id = $1", student_id)
    else:
        end_of_day = datetime.combine(as_of + timedelta(days=1), time(), LOCAL)
        row = await conn.fetchrow(
            "SELECT * FROM decision_history WHERE student_id = $1 AND decided_at < $2"
            " ORDER BY decided_at DESC LIMIT 1",
            student_id,
            end_of_day,
        )
    return _decision(row) if row else None


async def warnings(conn: Any, student_id: str) -> list[dict[str, Any]]:
    """The student's requirements at risk or overdue now (student.at_risk not cleared)."""
    rows = await conn.fetch(
        "SELECT requirement, state, due_on, detail, since FROM warnings WHERE student_id = $1"
        " ORDER BY due_on NULLS LAST, requirement",
        student_id,
    )
    return [
        {
            "requirement": r["requirement"],
            "state": r["state"],
            "due_on": r["due_on"].isoformat() if r["due_on"] else None,
            "detail": r["detail"],
            "since": r["since"].isoformat() if r["since"] else None,
        }
        for r in rows
    ]


async def timeline(conn: Any, student_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT seq, event_id, type, time, data FROM timeline WHERE student_id = $1"
        " ORDER BY time NULLS LAST, seq",
        student_id,
    )
    return [
        {
            "seq": r["seq"],
            "id": r["event_id"],
            "type": r["type"],
            "time": r["time"].isoformat() if r["time"] else None,
            "data": shown_data(json.loads(r["data"])),
        }
        for r in rows
    ]


async def accepted_events(conn: Any, student_id: str) -> list[dict[str, Any]]:
    """The student's timeline as stored (for the what-if fold), in the timeline's order."""
    rows = await conn.fetch(
        "SELECT event_id, school_id, type, time, data FROM timeline WHERE student_id = $1"
        " ORDER BY time NULLS LAST, seq",
        student_id,
    )
    return [dict(r) | {"data": json.loads(r["data"])} for r in rows]


INTERNSHIP_ENDS = {
    "internship.completed": "completed",
    "internship.terminated": "terminated",
    "internship.cancelled": "cancelled",
    "internship.expired": "expired",
}


def status_from(timeline_items: list[dict[str, Any]]) -> dict[str, Any]:
    """Internships (with their flags), the labor month and certificates, folded from the
    student's accepted events."""
    internships: dict[str, dict[str, Any]] = {}
    labor: list[dict[str, Any]] = []
    certificates: dict[str, dict[str, Any]] = {}
    for item in timeline_items:
        d, kind = item["data"], item["type"]
        if kind == "internship.started":
            internships[d["internship_id"]] = {**d, "status": "active"}
        elif kind in INTERNSHIP_ENDS:
            entry = internships.setdefault(
                d["internship_id"], {"internship_id": d["internship_id"]}
            )
            flags = entry.get("flags", [])
            entry.update({k: v for k, v in d.items() if k not in ("kind", "flags")})
            entry["status"] = INTERNSHIP_ENDS[kind]
            # An expiry adds its flag; a completion's own flags replace an expiry's.
            if kind == "internship.expired":
                entry["flags"] = [*flags, *d.get("flags", [])]
            else:
                kept = [
                    f for f in flags if f.get("code") not in ("INT_EXPIRED", "INT_HOURS_RECORDED")
                ]
                entry["flags"] = kept + d.get("flags", [])
        elif kind.startswith("labor_education."):
            labor.append({"kind": kind.split(".")[1], **d})
        elif kind == "certificate.earned":
            certificates[d["certificate_no"]] = {**d, "revoked": False}
        elif kind == "certificate.revoked":
            certificates.setdefault(d["certificate_no"], {"certificate_no": d["certificate_no"]})
            certificates[d["certificate_no"]].update(
                revoked=True, revoked_on=d.get("on"), revoked_reason=d.get("reason")
            )
    return {
        "internships": list(internships.values()),
        "labor_education": labor,
        "certificates": list(certificates.values()),
    }


COURSE_CATEGORIES = ("public-basic", "professional", "practice")
CREDIT_SOURCES = ("course", "transfer", "certificate", "prior_learning")


def learning_account(timeline_items: list[dict[str, Any]]) -> dict[str, Any]:
    """The personal learning account (个人学习账号, SPEC §2.6), folded from the credits
    service's canonical events in the student's timeline. Every line names the event it
    came from (`event_id`); a retake that is not better, a replaced attempt and a revoked
    credit stay as lines, counted as nothing. Independent of the timeline's order (events of
    one instant are in no particular order): replacements and revocations apply last."""
    courses: dict[str, dict[str, Any]] = {}
    recognitions: dict[str, dict[str, Any]] = {}
    revocations: list[tuple[str, dict[str, Any]]] = []
    for item in timeline_items:
        d, kind, event_id = item["data"], item["type"], item["id"]
        if kind == "course.completed":
            courses[event_id] = {
                "event_id": event_id,
                "time": item["time"],
                **{
                    k: d.get(k)
                    for k in (
                        "course_code",
                        "course_name",
                        "category",
                        "term",
                        "class_hours",
                        "practice_hours",
                        "credits",
                        "score",
                        "passed",
                    )
                },
                "counted": bool(d.get("counted", True)),
                "replaces": d.get("replaces"),
                "duplicate_of": d.get("duplicate_of"),
            }
        elif kind == "credit.recognized":
            recognitions[event_id] = {
                "event_id": event_id,
                "time": item["time"],
                **{
                    k: d.get(k)
                    for k in (
                        "recognition_id",
                        "kind",
                        "category",
                        "course_code",
                        "credits",
                        "practice_hours",
                        "evidence",
                        "approver",
                        "on",
                    )
                },
                "revoked": False,
                "revoked_by": None,
            }
        elif kind == "credit.revoked":
            revocations.append((event_id, d))
    for line in list(courses.values()):
        if replaced := courses.get(line["replaces"] or ""):
            replaced["counted"] = False
    for event_id, d in revocations:
        if line := recognitions.get(d.get("revokes") or ""):
            line.update(revoked=True, revoked_by=event_id, revoked_on=d.get("on"))
    by_category = dict.fromkeys(COURSE_CATEGORIES, 0.0)
    by_source = dict.fromkeys(CREDIT_SOURCES, 0.0)
    class_hours = practice_hours = 0.0
    for c in courses.values():
        if not c["counted"]:
            continue
        class_hours += float(c["class_hours"] or 0)
        practice_hours += float(c["practice_hours"] or 0)
        if c["passed"]:
            by_category[c["category"]] = by_category.get(c["category"], 0.0) + float(c["credits"])
            by_source["course"] += float(c["credits"])
    for r in recognitions.values():
        if r["revoked"]:
            continue
        credits = float(r["credits"] or 0)
        by_category[r["category"]] = by_category.get(r["category"], 0.0) + credits
        by_source[r["kind"]] = by_source.get(r["kind"], 0.0) + credits
    return {
        "total_credits": sum(by_source.values()),
        "credits_by_category": by_category,
        "credits_by_source": by_source,
        "class_hours": class_hours,
        "practice_hours": practice_hours,
        # The seed asks for practice teaching of more than half of all class hours.
        "practice_share": round(practice_hours / class_hours, 4) if class_hours else None,
        "courses": list(courses.values()),
        "recognitions": list(recognitions.values()),
    }


async def cohort(
    conn: Any,
    school_id: str,
    *,
    cohort: int | None,
    class_id: str | None,
    eligible: bool | None,
    missing: str | None,
    page: int,
    page_size: int,
    state: str | None = None,
    sort: str = "class",
) -> dict[str, Any]:
    where = ["s.school_id = $1"]
    args: list[Any] = [school_id]
    for clause, value in (
        ("s.cohort = ${}", cohort),
        ("s.class_id = ${}", class_id),
        ("d.eligible = ${}", eligible),
        ("${} = ANY(d.missing)", missing),
        ("${} = ANY(d.states)", state),
    ):
        if value is not None:
            args.append(value)
            where.append(clause.format(len(args)))
    condition = " AND ".join(where)
    base = f"FROM students s LEFT JOIN decisions d USING (student_id) WHERE {condition}"
    total = await conn.fetchval(f"SELECT count(*) {base}", *args)
    progress_rows = await conn.fetch(
        "SELECT r->>'code' AS code, count(*) FILTER (WHERE (r->>'met')::boolean) AS met,"
        " count(*) AS n FROM students s JOIN decisions d USING (student_id)"
        f" CROSS JOIN LATERAL jsonb_array_elements(d.requirements) AS r WHERE {condition}"
        " GROUP BY 1",
        *args,
    )
    rows = await conn.fetch(
        f"SELECT s.student_id, s.name, s.class_id, s.cohort, s.status, d.eligible, d.missing,"
        f" d.states, d.next_due {base} ORDER BY {ORDERS[sort]} LIMIT {page_size}"
        f" OFFSET {(page - 1) * page_size}",
        *args,
    )
    progress = {r["code"]: {"met": r["met"], "of": r["n"]} for r in progress_rows}
    return {
        "school_id": school_id,
        "total": total,
        "page": page,
        "page_size": page_size,
        # The requirements the listed students' policies hold them to (a cohort under the
        # default policy has no DIPLOMA, one under the legacy policy no ACADEMIC).
        "progress": [
            {"code": c, **progress.get(c, {"met": 0, "of": 0})}
            for c in ([c for c in REQUIREMENTS if c in progress] or REQUIREMENTS)
        ],
        "students": [
            {
                "student_id": r["student_id"],
                "name": r["name"],
                "class_id": r["class_id"],
                "cohort": r["cohort"],
                "status": r["status"],
                "eligible": r["eligible"],
                "missing": list(r["missing"] or []),
                "states": list(r["states"] or []),
                "next_due": r["next_due"].isoformat() if r["next_due"] else None,
            }
            for r in rows
        ],
    }


_SEARCHED = (
    " FROM students WHERE ($2::text IS NULL OR school_id = $2)"
    " AND (student_id ILIKE $1 || '%' OR name LIKE '%' || $1 || '%')"
)


async def search(
    conn: Any, text: str, school_id: str | None, limit: int = 20
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT student_id, name, class_id, cohort, school_id"
        + _SEARCHED
        + " ORDER BY student_id LIMIT $3",
        like_pattern(text),
        school_id,
        limit,
    )
    return [dict(r) for r in rows]


async def search_total(conn: Any, text: str, school_id: str | None) -> int:
    """How many students the search finds in all ("showing 20 of N")."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT count(*)" + _SEARCHED, like_pattern(text), school_id
    )


async def classes_of(conn: Any, school_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT class_id FROM students WHERE school_id = $1 ORDER BY 1", school_id
    )
    return [r["class_id"] for r in rows]


async def schools(conn: Any) -> list[dict[str, Any]]:
    """Every school with students, for the bureau's way into the class pages."""
    rows = await conn.fetch(
        "SELECT school_id, count(*) AS students, count(DISTINCT class_id) AS classes"
        " FROM students GROUP BY 1 ORDER BY 1"
    )
    return [dict(r) for r in rows]


async def open_record(
    conn: Any, who: Any, student_id: str, action: str, request_id: str
) -> str | None:
    """The school of a record `who` may read, or None (missing, or another school's: the
    caller answers 404 either way). Every attempt is appended to the access log."""
    school = await school_of(conn, student_id)
    allowed = school is not None and who.may_see(school)
    outcome = "allowed" if allowed else "not_found" if school is None else "denied_other_school"
    await log_access(
        conn,
        token_id=who.token_id,
        role=who.role,
        school_id=who.school_id,
        student_id=student_id,
        action=action,
        outcome=outcome,
        request_id=request_id,
    )
    return school if allowed else None


async def log_access(
    conn: Any,
    *,
    token_id: str | None,
    role: str | None,
    school_id: str | None,
    student_id: str | None,
    action: str,
    outcome: str,
    request_id: str,
) -> None:
    await conn.execute(
        "INSERT INTO access_log (token_id, role, school_id, student_id, action, outcome,"
        " request_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        token_id,
        role,
        school_id,
        student_id,
        action,
        outcome,
        request_id,
    )


async def log_refused(conn: Any, who: Any, shown_id: str, action: str, request_id: str) -> None:
    """An attempt with an id no record can have, kept with the id in escaped form."""
    await log_access(
        conn,
        token_id=who.token_id,
        role=who.role,
        school_id=who.school_id,
        student_id=shown_id,
        action=action,
        outcome="invalid_id",
        request_id=request_id,
    )


async def log_listed(
    conn: Any, who: Any, students: list[str], action: str, request_id: str
) -> None:
    """A list (search results, a cohort page) shows personal data of every student on it:
    one access-log row per student shown, so `who viewed X` includes the lists; one row
    without a student when the list is empty."""
    await conn.execute(
        "INSERT INTO access_log (token_id, role, school_id, student_id, action, outcome,"
        " request_id) SELECT $1, $2, $3, s, $5, 'allowed', $6"
        " FROM unnest(CASE WHEN cardinality($4::text[]) = 0 THEN ARRAY[NULL]::text[]"
        " ELSE $4::text[] END) AS s",
        who.token_id,
        who.role,
        who.school_id,
        students,
        action,
        request_id,
    )


async def viewers(conn: Any, student_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT at, token_id, role, school_id, action, outcome, request_id FROM access_log"
        " WHERE student_id = $1 ORDER BY seq",
        student_id,
    )
    return [{**dict(r), "at": r["at"].isoformat()} for r in rows]


@functools.cache
def stale_after() -> timedelta:
    """The policy's `pending.expire_after_days` (SANZHENG_POLICY_DIR included)."""
    from sanzheng_shared import stale
    from sanzheng_shared.policy import PolicyBook
    from sanzheng_shared.settings import get_settings

    return stale.limit(PolicyBook.load(get_settings().policy_dir))


async def held(conn: Any, student_id: str, limit: timedelta | None = None) -> list[dict[str, Any]]:
    """The student's held submissions; `stale` when held longer than the policy's limit
    (`pending.expire_after_days`): the operator may expire them (`sanzheng pending`)."""
    rows = await conn.fetch(
        "SELECT source, id, type, waiting_for, held_by, held_since,"
        " coalesce(held_since < now() - $2::interval, false) AS stale"
        " FROM held_submissions WHERE student_id = $1 ORDER BY type, id",
        student_id,
        limit or stale_after(),
    )
    return [dict(r) for r in rows]


async def warning_feed(conn: Any, school_id: str, after: int, limit: int) -> list[dict[str, Any]]:
    """The school's warnings and their clearings after `seq` `after`, oldest first."""
    rows = await conn.fetch(
        "SELECT seq, event_id, student_id, type, time, data FROM warning_feed"
        " WHERE school_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        school_id,
        after,
        limit,
    )
    out = []
    for r in rows:
        data = r["data"] if isinstance(r["data"], dict) else json.loads(r["data"])
        out.append(
            {
                "seq": r["seq"],
                "id": r["event_id"],
                "type": r["type"],
                "student_id": r["student_id"],
                "time": r["time"],
                "requirement": data["requirement"],
                "state": data["state"],
                "due_on": data.get("due_on"),
                "detail": data["detail"],
            }
        )
    return out
