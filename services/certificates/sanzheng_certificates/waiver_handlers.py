"""Handlers of waivers (SPEC §2.5): `requirement.waived` and `requirement.waiver_revoked`
from the gateway, and the legacy `labor_education.exempted` as a LABOR_MONTH waiver.

Never trusting the edge: a waiver the policy in force does not allow (requirement, the
approver's role, the reason category) is rejected here too, with WAIVER_NOT_ALLOWED and the
field at fault, whoever published it.
"""

from __future__ import annotations

from typing import Any

from sanzheng_certificates.decisions import policy_for
from sanzheng_certificates.projection import CertificatesState
from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.events.catalogue import (
    LaborEducationExempted,
    RequirementWaived,
    RequirementWaiverRevoked,
)
from sanzheng_shared.events.envelope import CloudEvent, Reason
from sanzheng_shared.policy import GraduationPolicy
from sanzheng_shared.policy.waivers import refusal


def _policy(ctx: HandlerContext, event: CloudEvent) -> GraduationPolicy:
    state: CertificatesState = ctx.state
    student = state.known.get(event.subject) if state.known is not None else None
    return policy_for(ctx.policy_book, student, event)


def _refused(policy: GraduationPolicy, requirement: str, role: str, category: str) -> Reason | None:
    found = refusal(policy.waivers, requirement, role, category)
    if found is None:
        return None
    field, message = found
    return Reason("WAIVER_NOT_ALLOWED", f"{message} under policy {policy.version}", field)


def _another_students(held: Any, event: CloudEvent, waiver_id: str, ctx: HandlerContext) -> bool:
    """A waiver id already held for another student: the submission is refused."""
    if held is None or held["student_id"] == event.subject:
        return False
    ctx.reject(
        event, [Reason("DATA_INVALID", f"waiver {waiver_id} is another student's", "waiver_id")]
    )
    return True


def requirement_waived(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, RequirementWaived) and event.subject
    policy = _policy(ctx, event)
    why = _refused(policy, data.requirement, data.approver.role, data.reason_category)
    if why is None and policy.requirement(data.requirement) is None:
        why = Reason(
            "WAIVER_NOT_ALLOWED",
            f"policy {policy.version} does not require {data.requirement}",
            "requirement",
        )
    if why is not None:
        ctx.reject(event, [why])
        return
    state: CertificatesState = ctx.state
    held = state.waivers.get(data.waiver_id)
    if _another_students(held, event, data.waiver_id, ctx):
        return
    if held is None:
        state.waivers.put(
            {
                "waiver_id": data.waiver_id,
                "student_id": event.subject,
                "school_id": event.schoolid,
                "requirement": data.requirement,
                "reason_category": data.reason_category,
                "reason": data.reason,
                "approver_name": data.approver.name,
                "approver_role": data.approver.role,
                "granted_on": data.granted_on,
                "expires_on": data.expires_on,
            }
        )
        ctx.emit(
            ctx.topics.outbound("certificates"),
            ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
        )
    ctx.touch(event)


def waiver_revoked(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    assert isinstance(data, RequirementWaiverRevoked) and event.subject
    state: CertificatesState = ctx.state
    held = state.waivers.get(data.waiver_id)
    if _another_students(held, event, data.waiver_id, ctx):
        return
    policy = _policy(ctx, event)
    # Who may grant a waiver may revoke it; before the waiver is known (any order), any
    # role the policy lets waive something.
    if held is not None:
        rule = policy.waivers.get(held["requirement"])
        roles = set(rule.roles) if rule is not None else set()
    else:
        roles = {r for rule in policy.waivers.values() for r in rule.roles}
    if data.revoked_by.role not in roles:
        ctx.reject(
            event,
            [
                Reason(
                    "WAIVER_NOT_ALLOWED",
                    f"a {data.revoked_by.role} may not revoke this waiver"
                    f" under policy {policy.version}",
                    "revoked_by.role",
                )
            ],
        )
        return
    if state.waiver_revocations.get(data.waiver_id) is None:
        state.waiver_revocations.put(
            {
                "waiver_id": data.waiver_id,
                "student_id": event.subject,
                "on_date": data.on,
                "by_name": data.revoked_by.name,
                "by_role": data.revoked_by.role,
            }
        )
        ctx.emit(
            ctx.topics.outbound("certificates"),
            ctx.derive(event, type=event.type, data=data.model_dump(mode="json")),
        )
    ctx.touch(event)


def labor_exempted(event: CloudEvent, data: Any, ctx: HandlerContext) -> None:
    """The labor-education service accepted an exemption with an approver role, a reason
    category and an expiry: a LABOR_MONTH waiver whose id is the canonical event's id."""
    assert isinstance(data, LaborEducationExempted) and event.subject
    state: CertificatesState = ctx.state
    if data.approver_role is None or data.reason_category is None or data.expires_on is None:
        return  # accepted before exemptions needed them: no longer counted (README)
    if state.waivers.get(event.id) is None:
        state.waivers.put(
            {
                "waiver_id": event.id,
                "student_id": event.subject,
                "school_id": event.schoolid,
                "requirement": "LABOR_MONTH",
                "reason_category": data.reason_category,
                "reason": data.reason,
                "approver_name": data.approved_by,
                "approver_role": data.approver_role,
                "granted_on": data.on,
                "expires_on": data.expires_on,
            }
        )
    ctx.touch(event)
