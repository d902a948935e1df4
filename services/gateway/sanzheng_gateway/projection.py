"""The gateway's read model: students, the timeline, decisions and their history.

A student belongs to the school that enrolled it: nothing here ever moves a record to
another school. An event that names another school for a known student changes nothing
(the domain services reject those; this is the read model's own guard)."""

from __future__ import annotations

import json
from typing import Any

from sanzheng_shared.events.envelope import CloudEvent

STATUS_BY_EVENT = {
    "student.suspended": "suspended",
    "student.resumed": "enrolled",
    "student.withdrawn": "withdrawn",
}


# The birth date is never shown (it rebuilds a national id with the masked form); the
# students table keeps it for the age, the timeline does not need it.
UNSTORED_FIELDS = ("birth_date",)
NOT_OTHER_SCHOOL = (
    "NOT EXISTS (SELECT 1 FROM students WHERE student_id = $2 AND school_id IS DISTINCT FROM $3)"
)


def last_four(masked: str | None) -> str | None:
    """At most the last four characters, whatever an (older) producer sent."""
    return "*" * 14 + masked[-4:] if masked else None


async def record(conn: Any, event: CloudEvent) -> None:
    data = {k: v for k, v in (event.data or {}).items() if k not in UNSTORED_FIELDS}
    if data.get("national_id_masked"):
        data["national_id_masked"] = last_four(data["national_id_masked"])
    await conn.execute(
        "INSERT INTO timeline (event_id, student_id, school_id, type, time, data)"
        f" SELECT $1, $2, $3, $4, $5, $6::jsonb WHERE {NOT_OTHER_SCHOOL}"
        " ON CONFLICT (event_id) DO NOTHING",
        event.id,
        event.subject,
        event.schoolid,
        event.type,
        event.time,
        json.dumps(data, ensure_ascii=False),
    )


async def upsert_student(conn: Any, event: CloudEvent) -> None:
    d = event.data
    await conn.execute(
        "INSERT INTO students (student_id, school_id, name, class_id, cohort, major_code,"
        " major_name, birth_date, enrolled_on, national_id_masked)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::date, $9::text::date, $10)"
        " ON CONFLICT (student_id) DO UPDATE SET"
        " name = excluded.name, class_id = excluded.class_id, cohort = excluded.cohort,"
        " major_code = excluded.major_code, major_name = excluded.major_name,"
        " birth_date = excluded.birth_date, enrolled_on = excluded.enrolled_on,"
        " national_id_masked = coalesce(excluded.national_id_masked,"
        " students.national_id_masked)"
        " WHERE students.school_id = excluded.school_id",
        event.subject,
        event.schoolid,
        d["name"],
        d["class_id"],
        d["cohort"],
        d.get("major_code"),
        d.get("major_name"),
        d.get("birth_date"),
        d.get("enrolled_on"),
        last_four(d.get("national_id_masked")),
    )


async def set_status(conn: Any, event: CloudEvent) -> None:
    await conn.execute(
        "UPDATE students SET status = $2 WHERE student_id = $1 AND school_id = $3",
        event.subject,
        STATUS_BY_EVENT[event.type],
        event.schoolid,
    )


async def record_decision(conn: Any, event: CloudEvent) -> None:
    d = event.data
    missing = [r["code"] for r in d["requirements"] if not r["met"]]
    requirements = json.dumps(d["requirements"], ensure_ascii=False)
    await conn.execute(
        "INSERT INTO decision_history (event_id, student_id, eligible, requirements,"
        " policy_version, decided_at) SELECT $1, $2, $4, $5::jsonb, $6,"
        f" $7::text::timestamptz WHERE {NOT_OTHER_SCHOOL} ON CONFLICT DO NOTHING",
        event.id,
        event.subject,
        event.schoolid,
        d["eligible"],
        requirements,
        d["policy_version"],
        d["decided_at"],
    )
    # Decisions may arrive out of order across partitions: keep the latest one.
    await conn.execute(
        "INSERT INTO decisions (student_id, school_id, eligible, requirements, missing,"
        " policy_version, decided_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6,"
        " $7::text::timestamptz) ON CONFLICT (student_id) DO UPDATE SET"
        " school_id = coalesce(decisions.school_id, excluded.school_id),"
        " eligible = excluded.eligible,"
        " requirements = excluded.requirements, missing = excluded.missing,"
        " policy_version = excluded.policy_version, decided_at = excluded.decided_at"
        " WHERE decisions.decided_at <= excluded.decided_at"
        " AND (decisions.school_id IS NULL OR decisions.school_id = excluded.school_id)",
        event.subject,
        event.schoolid,
        d["eligible"],
        requirements,
        missing,
        d["policy_version"],
        d["decided_at"],
    )


async def hold(conn: Any, event: CloudEvent) -> None:
    d = event.data
    await conn.execute(
        "INSERT INTO held_submissions (source, id, student_id, school_id, type, waiting_for,"
        " held_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source, id) DO UPDATE"
        " SET waiting_for = excluded.waiting_for",
        d["source"],
        d["id"],
        event.subject,
        event.schoolid,
        d["type"],
        d["waiting_for"],
        event.source.removeprefix("sanzheng/"),
    )


async def release(conn: Any, event: CloudEvent) -> None:
    await conn.execute(
        "DELETE FROM held_submissions WHERE source = $1 AND id = $2",
        event.data["source"],
        event.data["id"],
    )
