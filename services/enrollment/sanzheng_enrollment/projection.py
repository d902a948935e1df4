"""The enrollment projection: one row per student."""

from __future__ import annotations

from typing import Any

from sanzheng_shared.events.catalogue import StudentEnrolled


async def upsert_student(
    conn: Any, student_id: str, school_id: str | None, d: StudentEnrolled
) -> None:
    await conn.execute(
        "INSERT INTO students (student_id, school_id, name, birth_date, major_code, major_name,"
        " class_id, cohort, program_years, enrolled_on, status)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'enrolled')"
        " ON CONFLICT (student_id) DO UPDATE SET school_id = excluded.school_id,"
        " name = excluded.name, birth_date = excluded.birth_date,"
        " major_code = excluded.major_code, major_name = excluded.major_name,"
        " class_id = excluded.class_id, cohort = excluded.cohort,"
        " program_years = excluded.program_years, enrolled_on = excluded.enrolled_on",
        student_id,
        school_id,
        d.name,
        d.birth_date,
        d.major_code,
        d.major_name,
        d.class_id,
        d.cohort,
        d.program_years,
        d.enrolled_on,
    )
