"""Waivers over HTTP (SPEC §2.5, issue 13): a principal or the bureau waives a requirement
for a student, or revokes a waiver; the gateway records the approver from the token (never
from the body), checks the policy, and publishes the CloudEvent through its outbox to the
certificates service's inbound topic, which checks the policy again.

The list of waivers is folded from the timeline (the certificates service's canonical
`requirement.waived` / `requirement.waiver_revoked`, and legacy exemptions that carry an
approver role)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from sanzheng_gateway.tokens import Principal
from sanzheng_shared.events.catalogue import WaiverEvidence
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.events.upcast import current_version
from sanzheng_shared.policy import GraduationPolicy
from sanzheng_shared.policy.waivers import refusal

APPROVERS = ("principal", "bureau")
WAIVER_TYPES = ("requirement.waived", "requirement.waiver_revoked", "labor_education.exempted")
_REVOCATION = uuid.UUID("6f2b8f0e-3c1a-4d55-9a7e-0b7f5d1c2e90")


class WaiverBody(BaseModel):
    requirement: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,29}$")
    reason_category: str = Field(pattern=r"^[a-z_]{1,20}$")
    reason: str = Field(min_length=1, max_length=500)
    expires_on: date
    evidence: str | WaiverEvidence = Field(
        description="the evidence on file: its reference, or `{kind, reference}` as the"
        " `requirement.waived` event carries it (kind `document` when only a reference)"
    )

    def evidence_on_file(self) -> dict[str, str]:
        if isinstance(self.evidence, str):
            return {"kind": "document", "reference": self.evidence}
        return {"kind": self.evidence.kind, "reference": self.evidence.reference}

    @field_validator("evidence")
    @classmethod
    def _a_reference(cls, value: str | WaiverEvidence) -> str | WaiverEvidence:
        if isinstance(value, str) and not 1 <= len(value) <= 200:
            raise ValueError("a reference of 1 to 200 characters")
        return value


class RevokeBody(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class WaiverRefused(Exception):
    def __init__(self, detail: str, reasons: list[dict[str, str]]) -> None:
        super().__init__(detail)
        self.detail, self.reasons = detail, reasons


def approver(who: Principal, holder: str | None) -> dict[str, Any]:
    """The token's holder (its label, else its id) and role: what the event records."""
    return {"name": holder or who.token_id, "role": who.role, "token_id": who.token_id}


def check(body: WaiverBody, role: str, policy: GraduationPolicy, today: date) -> None:
    """WaiverRefused (422) when the policy does not allow it or it has already expired."""
    found = refusal(policy.waivers, body.requirement, role, body.reason_category)
    if found is None and policy.requirement(body.requirement) is None:
        found = ("requirement", f"policy {policy.version} does not require {body.requirement}")
    if found is not None:
        field, message = found
        raise WaiverRefused(
            "the policy does not allow this waiver",
            [{"code": "WAIVER_NOT_ALLOWED", "field": field, "message": message}],
        )
    if body.expires_on < today:
        raise WaiverRefused(
            "the waiver would already have expired",
            [
                {
                    "code": "WAIVER_EXPIRY_INVALID",
                    "field": "expires_on",
                    "message": f"expires_on is before today ({today.isoformat()})",
                }
            ],
        )


def _event(
    type_: str, event_id: str, student: str, school: str, data: dict[str, Any]
) -> CloudEvent:
    return CloudEvent.model_validate(
        {
            "specversion": "1.0",
            "id": event_id,
            # Inbound events are the school's (the services require `sis/<school>`); the
            # gateway's ids are uuids, so they never take one of the school's own keys.
            "source": f"sis/{school}",
            "type": type_,
            "time": datetime.now(UTC),
            "subject": student,
            "schoolid": school,
            "dataversion": current_version(type_),
            "data": data,
        }
    )


def waived(
    body: WaiverBody, student: str, school: str, by: dict[str, Any], today: date
) -> CloudEvent:
    waiver_id = str(uuid.uuid4())
    data = {
        "waiver_id": waiver_id,
        "requirement": body.requirement,
        "reason_category": body.reason_category,
        "reason": body.reason,
        "approver": by,
        "granted_on": today.isoformat(),
        "expires_on": body.expires_on.isoformat(),
        "evidence": body.evidence_on_file(),
    }
    return _event("requirement.waived", waiver_id, student, school, data)


def revoked(
    waiver_id: str, reason: str | None, student: str, school: str, by: dict[str, Any], today: date
) -> CloudEvent:
    # One revocation per waiver: asked twice, the same id, so the second is a duplicate.
    event_id = str(uuid.uuid5(_REVOCATION, waiver_id))
    data = {"waiver_id": waiver_id, "reason": reason, "revoked_by": by, "on": today.isoformat()}
    return _event("requirement.waiver_revoked", event_id, student, school, data)


def listed(rows: Iterable[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """Waiver rows of the timeline (in order) folded into one entry per waiver, with its
    `status`: `active`, `expired` or `revoked`."""
    found: dict[str, dict[str, Any]] = {}
    revocations: dict[str, dict[str, Any]] = {}
    for row in rows:
        d = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
        if row["type"] == "requirement.waiver_revoked":
            revocations[d["waiver_id"]] = d
        elif row["type"] == "requirement.waived":
            found[d["waiver_id"]] = {
                "waiver_id": d["waiver_id"],
                "student_id": row["student_id"],
                "requirement": d["requirement"],
                "reason_category": d["reason_category"],
                "reason": d["reason"],
                "approver": {k: d["approver"].get(k) for k in ("name", "role")},
                "granted_on": d["granted_on"],
                "expires_on": d["expires_on"],
                "evidence": (d.get("evidence") or {}).get("reference"),
            }
        elif d.get("approver_role") and d.get("expires_on"):  # a legacy exemption
            found[row["event_id"]] = {
                "waiver_id": row["event_id"],
                "student_id": row["student_id"],
                "requirement": "LABOR_MONTH",
                "reason_category": d.get("reason_category"),
                "reason": d["reason"],
                "approver": {"name": d["approved_by"], "role": d["approver_role"]},
                "granted_on": d["on"],
                "expires_on": d["expires_on"],
                "evidence": None,
            }
    out = []
    for waiver_id, w in found.items():
        gone = revocations.get(waiver_id)
        expired = w["expires_on"] < today.isoformat()
        status = "revoked" if gone else "expired" if expired else "active"
        out.append(
            w
            | {
                "status": status,
                "revoked_on": gone["on"] if gone else None,
                "revoked_by": {k: gone["revoked_by"].get(k) for k in ("name", "role")}
                if gone
                else None,
            }
        )
    return sorted(out, key=lambda w: (w["student_id"], w["granted_on"], w["waiver_id"]))


async def of_school(conn: Any, school: str, student: str | None = None) -> list[dict[str, Any]]:
    return list(
        await conn.fetch(
            "SELECT student_id, event_id, type, data FROM timeline"
            " WHERE school_id = $1 AND ($2::text IS NULL OR student_id = $2)"
            " AND type = ANY($3::text[]) ORDER BY time NULLS LAST, seq",
            school,
            student,
            list(WAIVER_TYPES),
        )
    )


async def holder(conn: Any, token_id: str) -> str | None:
    """Who holds the token (its label, given at `sanzheng token create --label`)."""
    return await conn.fetchval("SELECT label FROM tokens WHERE token_id = $1", token_id)  # type: ignore[no-any-return]
