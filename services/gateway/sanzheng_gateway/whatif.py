"""What-if: the decision a student would get with hypothetical events or under another
policy version, changing nothing (SPEC §5.2, issue 13).

It runs the certificates service's own fold, not a second copy of the rules: a fresh
in-memory `CertificatesState`, the certificates service's handlers over the student's
accepted events (the gateway's timeline, in its order) and then the hypothetical ones,
and the pure `decide`. No table is loaded or saved; what the handlers emit is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from sanzheng_certificates import handlers as certificates
from sanzheng_certificates.decisions import SCHOOL_TIME, explanation, policy_for
from sanzheng_certificates.graduation import decide
from sanzheng_certificates.projection import CertificatesState
from sanzheng_shared.consumer.context import Handler, HandlerContext
from sanzheng_shared.events.envelope import CloudEvent, InvalidData, validate_data
from sanzheng_shared.events.upcast import current_version
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.policy import GraduationPolicy, PolicyBook

ROUTES: dict[str, Handler] = {
    t: h
    for routes in (
        certificates.ENROLLMENT,
        certificates.INTERNSHIP,
        certificates.LABOR,
        certificates.INBOUND,
        certificates.CREDITS,
    )
    for t, h in routes.items()
}
"""Every event type the certificates service decides on, with its handler."""

MAX_EVENTS = 50


def today() -> date:
    """What-if decides today (waivers expire, states move with the date)."""
    return datetime.now(SCHOOL_TIME).date()


class WhatIfError(Exception):
    def __init__(self, detail: str, code: str, reasons: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.detail, self.code, self.reasons = detail, code, reasons


@dataclass(frozen=True)
class Student:
    student_id: str
    school_id: str
    cohort: int
    birth_date: Any


def _reason(code: str, message: str, field: str) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field}


def hypothetical(raw: Iterable[Any], student: Student) -> list[CloudEvent]:
    """The body's events as CloudEvents about this student: `id`, `source`, `subject`,
    `schoolid` and `specversion` may be left out. 422 (WhatIfError) for the rest."""
    events = []
    for n, item in enumerate(raw):
        where = f"events[{n}]"
        if not isinstance(item, dict):
            raise WhatIfError("an event must be a JSON object", "EVENT_INVALID", [])
        attributes = {
            "specversion": "1.0",
            "id": f"what-if-{n}",
            "source": f"what-if/{student.school_id}",
            "subject": student.student_id,
            "schoolid": student.school_id,
            "dataversion": current_version(str(item.get("type", ""))),
        } | item
        if attributes["subject"] != student.student_id:
            raise WhatIfError(
                "a hypothetical event must be about this student",
                "SUBJECT_MISMATCH",
                [_reason("SUBJECT_MISMATCH", "another student", f"{where}.subject")],
            )
        try:
            event = CloudEvent.model_validate(attributes)
        except ValidationError as exc:
            reasons = [
                _reason(
                    "EVENT_INVALID",
                    e["msg"],
                    ".".join([where, *(str(p) for p in e["loc"])]),
                )
                for e in exc.errors()
            ]
            raise WhatIfError(
                "an event is not a valid CloudEvent", "EVENT_INVALID", reasons
            ) from None
        if event.type not in ROUTES:
            raise WhatIfError(
                f"{event.type} does not bear on graduation",
                "TYPE_UNSUPPORTED",
                [_reason("TYPE_UNSUPPORTED", f"one of {sorted(ROUTES)}", f"{where}.type")],
            )
        try:
            validate_data(event)
        except InvalidData as exc:
            raise WhatIfError(
                "an event's data is invalid",
                "DATA_INVALID",
                [r.as_dict() | {"field": f"{where}.data.{r.field or ''}"} for r in exc.reasons],
            ) from None
        events.append(event)
    return events


def accepted(rows: Iterable[dict[str, Any]], student: Student) -> list[CloudEvent]:
    """The student's timeline rows as the canonical events they were. The timeline keeps
    no birth date: the enrollment gets it back from the student's row."""
    events = []
    for row in rows:
        data = dict(row["data"])
        if row["type"] == "student.enrolled":
            data.setdefault("birth_date", student.birth_date.isoformat())
        events.append(
            CloudEvent.model_validate(
                {
                    "specversion": "1.0",
                    "id": row["event_id"],
                    "source": "sanzheng/gateway",
                    "type": row["type"],
                    "time": row["time"],
                    "subject": student.student_id,
                    "schoolid": row["school_id"],
                    "dataversion": current_version(row["type"]),
                    "data": data,
                }
            )
        )
    return events


def fold(events: Iterable[CloudEvent], policies: PolicyBook) -> CertificatesState:
    """The certificates service's handlers over the events, in memory. The policies are
    the handlers' too: a waiver is checked against the policy on arrival."""
    state = CertificatesState()
    ctx = HandlerContext(
        service="what-if", topics=TopicNames(), state=state, policies=policies, accepted_facts=True
    )
    for event in events:
        handler = ROUTES.get(event.type)
        if handler is None:
            continue
        ctx.begin("what-if", None)
        try:
            data = validate_data(event)
        except InvalidData:
            continue  # the certificates service refused it too
        handler(event, data, ctx)
    return state


def choose_policy(
    policies: PolicyBook, state: CertificatesState, student: Student, version: str | None
) -> GraduationPolicy:
    if version is not None:
        found = next((p for p in policies.policies if p.version == version), None)
        if found is None:
            raise WhatIfError(
                f"unknown policy version {version}",
                "POLICY_VERSION_UNKNOWN",
                [
                    _reason(
                        "POLICY_VERSION_UNKNOWN",
                        f"one of {sorted(p.version for p in policies.policies)}",
                        "policy_version",
                    )
                ],
            )
        return found
    known = state.known.get(student.student_id) if state.known is not None else None
    return policy_for(policies, known or {**vars(student), "program_years": 3}, None)


def what_if(
    policies: PolicyBook,
    student: Student,
    timeline: list[dict[str, Any]],
    extra: list[CloudEvent],
    version: str | None,
) -> dict[str, Any]:
    state = fold([*accepted(timeline, student), *extra], policies)
    policy = choose_policy(policies, state, student, version)
    return explanation(decide(state.record(student.student_id), policy, today()))


def under(policy: GraduationPolicy, student: Student, timeline: list[dict[str, Any]]) -> Any:
    """The student's decision under a candidate policy (not necessarily in force)."""
    state = fold(accepted(timeline, student), PolicyBook([policy]))
    return explanation(decide(state.record(student.student_id), policy, today()))


async def cohort(
    conn: Any, policy: GraduationPolicy, school: str, cohort: int | None
) -> list[dict[str, Any]]:
    """Every student of a school (or of one cohort) re-decided under `policy`, beside the
    decision announced today; reads the gateway's read model (two queries), writes
    nothing."""
    students = await conn.fetch(
        "SELECT s.student_id, s.school_id, s.cohort, s.birth_date, s.name,"
        " d.eligible, d.requirements, d.policy_version"
        " FROM students s LEFT JOIN decisions d USING (student_id)"
        " WHERE s.school_id = $1 AND ($2::int IS NULL OR s.cohort = $2)"
        " ORDER BY s.student_id",
        school,
        cohort,
    )
    rows = await conn.fetch(
        "SELECT student_id, event_id, school_id, type, time, data FROM timeline"
        " WHERE student_id = ANY($1::text[]) ORDER BY student_id, time NULLS LAST, seq",
        [s["student_id"] for s in students],
    )
    timelines: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        timelines.setdefault(r["student_id"], []).append(
            dict(r) | {"data": json.loads(r["data"]) if isinstance(r["data"], str) else r["data"]}
        )
    out = []
    for s in students:
        student = Student(s["student_id"], s["school_id"], s["cohort"], s["birth_date"])
        after = under(policy, student, timelines.get(s["student_id"], []))
        before = None
        if s["requirements"] is not None:
            requirements = s["requirements"]
            before = {
                "eligible": s["eligible"],
                "requirements": json.loads(requirements)
                if isinstance(requirements, str)
                else requirements,
                "policy_version": s["policy_version"],
            }
        diff = changes(before, after)
        out.append(
            {
                "student_id": s["student_id"],
                "name": s["name"],
                "cohort": s["cohort"],
                "policy_before": before["policy_version"] if before else None,
                "eligible_before": before["eligible"] if before else None,
                "eligible_after": after["eligible"],
                "missing_before": [r["code"] for r in before["requirements"] if not r["met"]]
                if before
                else None,
                "missing_after": [r["code"] for r in after["requirements"] if not r["met"]],
                "changed": bool(before is None or before["eligible"] != after["eligible"])
                or any(c["met_before"] != c["met_after"] for c in diff),
            }
        )
    return out


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """Each requirement whose outcome or detail differs from today's decision."""
    old = {r["code"]: r for r in (before or {}).get("requirements", [])}
    new = {r["code"]: r for r in after["requirements"]}
    out = []
    for code in [*new, *(c for c in old if c not in new)]:
        a, b = old.get(code), new.get(code)
        if a is not None and b is not None and (a["met"], a["detail"]) == (b["met"], b["detail"]):
            continue
        out.append(
            {
                "code": code,
                "met_before": a["met"] if a else None,
                "met_after": b["met"] if b else None,
                "detail_before": a["detail"] if a else None,
                "detail_after": b["detail"] if b else None,
            }
        )
    return out
