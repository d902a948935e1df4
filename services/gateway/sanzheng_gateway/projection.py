"""The gateway's read model: students, the timeline, decisions and their history."""

from __future__ import annotations

import json
from typing import Any

from sanzheng_shared.events.envelope import CloudEvent

STATUS_BY_EVENT = {
    "student.suspended": "suspended",
    "student.resumed": "enrolled",
    "student.withdrawn": "withdrawn",
}


async def record(conn: Any, event: CloudEvent) -> None:
    await conn.execute(
        "INSERT INTO timeline (event_id, student_id, school_id, type, time, data)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (event_id) DO NOTHING",
        event.id,
        event.subject,
        event.schoolid,
        event.type,
        event.time,
        json.dumps(event.data, ensure_ascii=False),
    )


async def upsert_student(conn: Any, event: CloudEvent) -> None:
    d = event.data
    await conn.execute(
        "INSERT INTO students (student_id, school_id, name, class_id, cohort, major_code,"
        " major_name, birth_date, enrolled_on, national_id_masked)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::date, $9::text::date, $10)"
        " ON CONFLICT (student_id) DO UPDATE SET school_id = excluded.school_id,"
        " name = excluded.name, class_id = excluded.class_id, cohort = excluded.cohort,"
        " major_code = excluded.major_code, major_name = excluded.major_name,"
        " birth_date = excluded.birth_date, enrolled_on = excluded.enrolled_on,"
        " national_id_masked = coalesce(excluded.national_id_masked,"
        " students.national_id_masked)",
        event.subject,
        event.schoolid,
        d["name"],
        d["class_id"],
        d["cohort"],
        d.get("major_code"),
        d.get("major_name"),
        d.get("birth_date"),
        d.get("enrolled_on"),
        d.get("national_id_masked"),
    )


async def set_status(conn: Any, event: CloudEvent) -> None:
    await conn.execute(
        "UPDATE students SET status = $2 WHERE student_id = $1",
        event.subject,
        STATUS_BY_EVENT[event.type],
    )


async def record_decision(conn: Any, event: CloudEvent) -> None:
    d = event.data
    missing = [r["code"] for r in d["requirements"] if not r["met"]]
    requirements = json.dumps(d["requirements"], ensure_ascii=False)
    await conn.execute(
        "INSERT INTO decision_history (event_id, student_id, eligible, requirements,"
        " policy_version, decided_at) VALUES ($1, $2, $3, $4::jsonb, $5,"
        " $6::text::timestamptz) ON CONFLICT DO NOTHING",
        event.id,
        event.subject,
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
        " school_id = excluded.school_id, eligible = excluded.eligible,"
        " requirements = excluded.requirements, missing = excluded.missing,"
        " policy_version = excluded.policy_version, decided_at = excluded.decided_at"
        " WHERE decisions.decided_at <= excluded.decided_at",
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
