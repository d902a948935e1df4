"""The internship projection: one row per internship, with its flagged breaches."""

from __future__ import annotations

import json
from typing import Any

from sanzheng_internship.rules import Breach, EmployerLoad
from sanzheng_shared.events.catalogue import InternshipStarted


async def load_for(conn: Any, student_id: str, s: InternshipStarted) -> EmployerLoad:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE employer_id = $2) AS at_employer,"
        " count(*) FILTER (WHERE employer_id = $2 AND post_title = $3) AS on_post,"
        " coalesce(sum(planned_end_on - start_on) FILTER (WHERE student_id = $1), 0) AS days"
        " FROM internships WHERE kind = 'post' AND status <> 'terminated'"
        " AND internship_id <> $4 AND (status = 'active' OR student_id = $1)",
        student_id,
        s.employer_id,
        s.post_title,
        s.internship_id,
    )
    return EmployerLoad(int(row["at_employer"]), int(row["on_post"]), int(row["days"]))


async def get(conn: Any, internship_id: str) -> Any:
    return await conn.fetchrow("SELECT * FROM internships WHERE internship_id = $1", internship_id)


async def upsert_started(
    conn: Any, student_id: str, school_id: str | None, s: InternshipStarted, flags: list[Breach]
) -> None:
    await conn.execute(
        "INSERT INTO internships (internship_id, student_id, school_id, kind, employer_id,"
        " employer_name, post_title, start_on, planned_end_on, flags)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)"
        " ON CONFLICT (internship_id) DO UPDATE SET kind = excluded.kind,"
        " employer_id = excluded.employer_id, employer_name = excluded.employer_name,"
        " post_title = excluded.post_title, start_on = excluded.start_on,"
        " planned_end_on = excluded.planned_end_on, flags = excluded.flags",
        s.internship_id,
        student_id,
        school_id,
        s.kind,
        s.employer_id,
        s.employer_name,
        s.post_title,
        s.start_on,
        s.planned_end_on,
        json.dumps([f.as_dict() for f in flags]),
    )


async def complete(
    conn: Any, internship_id: str, end_on: Any, hours: float, evaluation: str
) -> None:
    await conn.execute(
        "UPDATE internships SET status = 'completed', end_on = $2, hours = $3, evaluation = $4"
        " WHERE internship_id = $1",
        internship_id,
        end_on,
        hours,
        evaluation,
    )


async def terminate(conn: Any, internship_id: str, on: Any) -> None:
    await conn.execute(
        "UPDATE internships SET status = 'terminated', end_on = $2 WHERE internship_id = $1",
        internship_id,
        on,
    )
