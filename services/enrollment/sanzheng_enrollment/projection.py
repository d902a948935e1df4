"""The enrollment projection: one row per student, and the history of status changes."""

from __future__ import annotations

from typing import Any

from sanzheng_enrollment.privacy import ProtectedId
from sanzheng_shared.events.catalogue import StudentEnrolled, StudentStatusChanged
from sanzheng_shared.events.envelope import CloudEvent


async def get(conn: Any, student_id: str) -> Any:
    return await conn.fetchrow("SELECT * FROM students WHERE student_id = $1", student_id)


async def holder_of(conn: Any, fingerprint: str) -> str | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT student_id FROM students WHERE national_id_hmac = $1", fingerprint
    )


async def upsert_student(
    conn: Any,
    student_id: str,
    school_id: str | None,
    d: StudentEnrolled,
    national_id: ProtectedId | None,
) -> None:
    await conn.execute(
        "INSERT INTO students (student_id, school_id, name, birth_date, major_code, major_name,"
        " class_id, cohort, program_years, enrolled_on, status, national_id_hmac,"
        " national_id_enc, national_id_masked)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'enrolled', $11, $12, $13)"
        " ON CONFLICT (student_id) DO UPDATE SET school_id = excluded.school_id,"
        " name = excluded.name, birth_date = excluded.birth_date,"
        " major_code = excluded.major_code, major_name = excluded.major_name,"
        " class_id = excluded.class_id, cohort = excluded.cohort,"
        " program_years = excluded.program_years, enrolled_on = excluded.enrolled_on,"
        " national_id_hmac = coalesce(excluded.national_id_hmac, students.national_id_hmac),"
        " national_id_enc = coalesce(excluded.national_id_enc, students.national_id_enc),"
        " national_id_masked = coalesce(excluded.national_id_masked, students.national_id_masked)",
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
        national_id.fingerprint if national_id else None,
        national_id.ciphertext if national_id else None,
        national_id.masked if national_id else None,
    )


async def change_status(conn: Any, event: CloudEvent, status: str, d: StudentStatusChanged) -> None:
    await conn.execute(
        "UPDATE students SET status = $2, status_on = $3, status_reason = $4 WHERE student_id = $1",
        event.subject,
        status,
        d.on,
        d.reason,
    )
    await conn.execute(
        "INSERT INTO status_changes (event_source, event_id, student_id, status, on_date, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        event.source,
        event.id,
        event.subject,
        status,
        d.on,
        d.reason,
    )
