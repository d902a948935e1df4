"""The graduation decision, once per student per batch (SPEC §2.5, §3.3).

A decision is announced when its explanation changed. Its id derives from its content and
from the id of the decision before it, so that a changed decision is never taken for a
duplicate (even A, then B, then A again), and a replay from the event log announces the
same ids as the live run, which downstream consumers then drop as duplicates.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sanzheng_certificates import risks
from sanzheng_certificates.graduation import Decision, decide
from sanzheng_shared.consumer.context import HandlerContext, content_id
from sanzheng_shared.domain.school_year import expected_graduation
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.policy import GraduationPolicy, PolicyBook

SCHOOL_TIME = ZoneInfo("Asia/Shanghai")

if TYPE_CHECKING:
    from sanzheng_certificates.projection import CertificatesState


def explanation(decision: Decision) -> dict[str, Any]:
    return {
        "eligible": decision.eligible,
        "requirements": [r.as_dict() for r in decision.requirements],
        "policy_version": decision.policy_version,
    }


def _stored(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: row[k] for k in ("eligible", "requirements", "policy_version")}


def policy_for(
    policies: PolicyBook, student: dict[str, Any] | None, cause: CloudEvent | None
) -> GraduationPolicy:
    """The policy in force for a student on the expected graduation day, which the
    lifecycle (a suspension, a repeated year) may have pushed back; for a student not yet
    known, on the day of the event that caused the decision."""
    if student:
        school, cohort = student["school_id"], student["cohort"]
        day = student.get("expected_graduation") or expected_graduation(
            cohort, student["program_years"]
        )
    else:
        school, cohort = (cause.schoolid if cause else None), None
        day = cause.time.date() if cause and cause.time else date.today()
    return policies.for_student(school, cohort, day)


def decide_touched(state: CertificatesState, ctx: HandlerContext) -> None:
    from sanzheng_certificates.diplomas import release_eligible

    release_eligible(state, ctx)  # before deciding: an accepted diploma is a fact too
    for student_id in sorted(ctx.touched):
        cause = ctx.causes[student_id]
        student = state.known.get(student_id) if state.known is not None else None
        school = student["school_id"] if student else cause.schoolid
        policy = policy_for(ctx.policy_book, student, cause)
        previous = state.decisions.get(student_id)
        decided_at = decision_time(previous, ctx.touched[student_id])
        now = explanation(decide(state.record(student_id), policy, decision_day(decided_at)))
        if _stored(previous) == now:
            continue
        decision_id = content_id(
            "graduation",
            student_id,
            (previous or {}).get("event_id") or "",
            json.dumps(now, sort_keys=True, ensure_ascii=False),
        )
        state.decisions.put(
            {
                "student_id": student_id,
                "school_id": school or (previous or {}).get("school_id"),
                **now,
                "decided_at": decided_at,
                "event_id": decision_id,
            }
        )
        ctx.emit(
            ctx.topics.graduation,
            ctx.derive(
                cause,
                type="graduation.eligibility_changed",
                data=now | {"decided_at": decided_at.isoformat()},
                extra={"id": decision_id, "schoolid": school, "time": decided_at},
            ),
        )
        for kind, requirement in risks.changes(
            (previous or {}).get("requirements"), now["requirements"]
        ):
            ctx.emit(
                ctx.topics.graduation,
                ctx.derive(
                    cause,
                    type=kind,
                    data={
                        "requirement": requirement["code"],
                        "state": requirement["state"],
                        "due_on": requirement["due_on"],
                        "detail": requirement["detail"],
                        "decided_at": decided_at.isoformat(),
                    },
                    extra={
                        "id": content_id(kind, decision_id, requirement["code"]),
                        "schoolid": school,
                        "time": decided_at,
                    },
                ),
            )


def decision_day(decided_at: datetime) -> date:
    """The school's calendar day of a decision (Asia/Shanghai): the day waivers expire on."""
    return decided_at.astimezone(SCHOOL_TIME).date()


def decision_time(previous: dict[str, Any] | None, timestamp_ms: int | None) -> datetime:
    """When the broker received the newest event behind the decision (the same in a
    replay), and strictly after the previous decision: readers of the decision history (the
    school's trend chart, `as_of` statistics) take the latest by time, and two events the
    broker stamped in one millisecond must not leave them a tie to break at random."""
    at = (
        datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        if timestamp_ms is not None
        else datetime.now(UTC)
    )
    before = (previous or {}).get("decided_at")
    if isinstance(before, datetime) and at <= before:
        return before + timedelta(microseconds=1)
    return at
