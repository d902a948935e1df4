"""A diploma (学历证书) is what graduation confers (SPEC §2.5): it is accepted only for a
student who is eligible under the policy in force, every requirement met but DIPLOMA itself
(a requirement only of the legacy policy).

Any order (SPEC §4.3): a school sends the diploma once its system believes the student
eligible, but the facts behind that belief may still be on their way — a course passes
through the credits service before it reaches this one, so it is routinely later than a
diploma sent right after it. A diploma for a student not eligible yet is therefore *held*
(`submission.held`, waiting for `graduation.eligibility_changed`) and accepted at the end
of the first batch that makes the student eligible. It is refused with `GRAD_NOT_ELIGIBLE`
when no fact can make the student eligible any more (withdrawn); a diploma held longer than
the policy's `pending.expire_after_days` is stale and the operator expires it
(`sanzheng pending expire`). Once accepted, a diploma stays: a later revocation of another
certificate makes the decision not eligible again, and the school revokes the diploma.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sanzheng_certificates.decisions import policy_for
from sanzheng_certificates.graduation import missing_for_diploma
from sanzheng_shared import pending
from sanzheng_shared.consumer.context import HandlerContext
from sanzheng_shared.events.envelope import CloudEvent, Reason

if TYPE_CHECKING:
    from sanzheng_certificates.projection import CertificatesState

ELIGIBILITY = "graduation.eligibility_changed"
"""What a held diploma waits for."""


def not_eligible(missing: list[str]) -> Reason:
    return Reason(
        "GRAD_NOT_ELIGIBLE",
        f"a diploma is issued only to a student eligible to graduate; missing: "
        f"{', '.join(missing)}",
        "kind",
    )


def _missing(
    state: CertificatesState, ctx: HandlerContext, student_id: str, cause: CloudEvent
) -> tuple[dict[str, Any] | None, list[str]]:
    student = state.known.get(student_id) if state.known is not None else None
    policy = policy_for(ctx.policy_book, student, cause)
    return student, missing_for_diploma(state.record(student_id), policy, ctx.seen_at().date())


def admit(event: CloudEvent, ctx: HandlerContext) -> bool:
    """True when the diploma may be accepted now; otherwise it is held or refused."""
    assert event.subject
    if ctx.policies is None or ctx.accepted_facts:
        # A fold over accepted events (the gateway's what-if over the timeline, which holds
        # only diplomas the service accepted) takes the diploma as the fact it is.
        return True
    state: CertificatesState = ctx.state
    student, missing = _missing(state, ctx, event.subject, event)
    if student is None:  # the policy and every requirement need the enrollment
        pending.hold(ctx, event, pending.STUDENT)
        return False
    if not missing:
        return True
    if student["status"] == "withdrawn":  # never eligible (SPEC §2.1)
        ctx.reject(event, [not_eligible(missing)], refers_to={"kind": "diploma"})
        return False
    pending.hold(ctx, event, ELIGIBILITY)
    return False


def release_eligible(state: CertificatesState, ctx: HandlerContext) -> None:
    """At the end of a batch: a held diploma whose student is now eligible is accepted (or,
    withdrawn meanwhile, refused). It runs through `certificate_earned` again."""
    for student_id in sorted(ctx.touched):
        if not any(r["waiting_for"] == ELIGIBILITY for r in state.pending.of_student(student_id)):
            continue
        student, missing = _missing(state, ctx, student_id, ctx.causes[student_id])
        if not missing or (student is not None and student["status"] == "withdrawn"):
            pending.release(ctx, ELIGIBILITY, student_id=student_id)
