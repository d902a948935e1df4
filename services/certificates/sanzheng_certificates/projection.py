"""The certificates service's own view of students (built from `enrollment.events`)."""

from __future__ import annotations

from typing import Any

from sanzheng_shared.events.catalogue import StudentEnrolled


async def upsert_student(
    conn: Any, student_id: str, school_id: str | None, d: StudentEnrolled
) -> None:
    await conn.execute(
        "INSERT INTO students (student_id, school_id, class_id, cohort, birth_date, status)"
        " VALUES ($1, $2, $3, $4, $5, 'enrolled')"
        " ON CONFLICT (student_id) DO UPDATE SET school_id = excluded.school_id,"
        " class_id = excluded.class_id, cohort = excluded.cohort,"
        " birth_date = excluded.birth_date",
        student_id,
        school_id,
        d.class_id,
        d.cohort,
        d.birth_date,
    )
