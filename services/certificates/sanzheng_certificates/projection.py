"""The certificates service's tables: certificates it owns, the facts it mirrors from the
other services, and the last graduation decision per student."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sanzheng_certificates.graduation import (
    Certificate,
    Decision,
    InternshipFact,
    StudentRecord,
)
from sanzheng_shared.events.catalogue import CertificateEarned, CertificateRevoked
from sanzheng_shared.events.envelope import CloudEvent


async def certificate_holder(conn: Any, number: str) -> str | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT student_id FROM certificates WHERE certificate_no = $1", number
    )


async def add_certificate(conn: Any, event: CloudEvent, d: CertificateEarned) -> None:
    await conn.execute(
        "INSERT INTO certificates (certificate_no, student_id, school_id, kind, title, level,"
        " issuer_type, issuer, issued_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (certificate_no) DO NOTHING",
        d.certificate_no,
        event.subject,
        event.schoolid,
        d.kind,
        d.title,
        d.level,
        d.issuer_type,
        d.issuer,
        d.issued_on,
    )


async def revocation_holder(conn: Any, number: str) -> str | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT student_id FROM revocations WHERE certificate_no = $1", number
    )


async def add_revocation(conn: Any, event: CloudEvent, d: CertificateRevoked) -> None:
    await conn.execute(
        "INSERT INTO revocations (certificate_no, student_id, reason, on_date)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (certificate_no) DO NOTHING",
        d.certificate_no,
        event.subject,
        d.reason,
        d.on,
    )


async def upsert_internship(conn: Any, student_id: str, data: dict[str, Any], status: str) -> None:
    await conn.execute(
        "INSERT INTO internships (internship_id, student_id, kind, status, hours, evaluation,"
        " flags) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
        " ON CONFLICT (internship_id) DO UPDATE SET kind = excluded.kind,"
        " status = CASE WHEN excluded.status = 'active' THEN internships.status"
        "          ELSE excluded.status END,"
        " hours = coalesce(excluded.hours, internships.hours),"
        " evaluation = coalesce(excluded.evaluation, internships.evaluation),"
        " flags = CASE WHEN excluded.status = 'active' THEN excluded.flags"
        "         ELSE internships.flags END",
        data["internship_id"],
        student_id,
        data.get("kind", "post"),
        status,
        data.get("hours"),
        data.get("evaluation"),
        json.dumps(data.get("flags", [])),
    )


async def add_internship_rejection(
    conn: Any, student_id: str, internship_id: str, codes: list[str]
) -> None:
    await conn.execute(
        "INSERT INTO internship_rejections (internship_id, student_id, codes)"
        " VALUES ($1, $2, $3) ON CONFLICT (internship_id, student_id)"
        " DO UPDATE SET codes = excluded.codes",
        internship_id,
        student_id,
        codes,
    )


async def add_labor(conn: Any, event: CloudEvent, kind: str, approved_by: str | None) -> None:
    await conn.execute(
        "INSERT INTO labor_records (event_id, student_id, kind, approved_by)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        event.id,
        event.subject,
        kind,
        approved_by,
    )


async def student_record(conn: Any, student_id: str) -> tuple[StudentRecord, Any]:
    """Every fact about one student, and the known-student row (or None)."""
    student = await conn.fetchrow("SELECT * FROM known_students WHERE student_id = $1", student_id)
    certs = await conn.fetch(
        "SELECT c.certificate_no, c.kind, c.level, c.issuer_type, r.certificate_no IS NOT NULL"
        " AS revoked FROM certificates c LEFT JOIN revocations r USING (certificate_no)"
        " WHERE c.student_id = $1 ORDER BY c.certificate_no",
        student_id,
    )
    internships = await conn.fetch(
        "SELECT internship_id, kind, status, hours, evaluation FROM internships"
        " WHERE student_id = $1 ORDER BY internship_id",
        student_id,
    )
    labor = await conn.fetch(
        "SELECT kind, approved_by FROM labor_records WHERE student_id = $1 ORDER BY event_id",
        student_id,
    )
    rejected = await conn.fetch(
        "SELECT internship_id, codes FROM internship_rejections WHERE student_id = $1"
        " ORDER BY internship_id",
        student_id,
    )
    record = StudentRecord(
        enrolled=student is not None,
        status=student["status"] if student else None,
        certificates=tuple(
            Certificate(c["certificate_no"], c["kind"], c["level"], c["issuer_type"], c["revoked"])
            for c in certs
        ),
        internships=tuple(
            InternshipFact(
                i["internship_id"], i["kind"], i["status"], float(i["hours"] or 0), i["evaluation"]
            )
            for i in internships
        ),
        labor_completed=any(r["kind"] == "completed" for r in labor),
        labor_exempted_by=tuple(sorted(r["approved_by"] for r in labor if r["kind"] == "exempted")),
        rejected_internships=tuple((r["internship_id"], tuple(r["codes"])) for r in rejected),
    )
    return record, student


def explanation(decision: Decision) -> dict[str, Any]:
    return {
        "eligible": decision.eligible,
        "requirements": [r.as_dict() for r in decision.requirements],
        "policy_version": decision.policy_version,
    }


async def last_explanation(conn: Any, student_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT eligible, requirements, policy_version FROM decisions WHERE student_id = $1",
        student_id,
    )
    if row is None:
        return None
    return {
        "eligible": row["eligible"],
        "requirements": json.loads(row["requirements"]),
        "policy_version": row["policy_version"],
    }


async def save_decision(
    conn: Any, student_id: str, school_id: str | None, decision: Decision, decided_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO decisions (student_id, school_id, eligible, requirements, policy_version,"
        " decided_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6)"
        " ON CONFLICT (student_id) DO UPDATE SET school_id = coalesce(excluded.school_id,"
        " decisions.school_id), eligible = excluded.eligible,"
        " requirements = excluded.requirements, policy_version = excluded.policy_version,"
        " decided_at = excluded.decided_at",
        student_id,
        school_id,
        decision.eligible,
        json.dumps([r.as_dict() for r in decision.requirements]),
        decision.policy_version,
        decided_at,
    )
