"""The three-certificates graduation decision (SPEC §2.5), a pure function of the facts.

Re-evaluating it from all stored facts on every event is what makes the final decision
independent of arrival order. The result is an explanation: every requirement of the
policy, met or not, with a detail a counselor can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sanzheng_certificates.academic import CourseFact, CreditFact, assess
from sanzheng_certificates.deadlines import Lifecycle, with_deadline
from sanzheng_certificates.waivers import Waiver
from sanzheng_certificates.waivers import apply as apply_waivers
from sanzheng_shared.policy import LEVELS, GraduationPolicy, Requirement


@dataclass(frozen=True)
class Certificate:
    number: str
    kind: str
    level: str | None = None
    issuer_type: str | None = None
    revoked: bool = False


@dataclass(frozen=True)
class InternshipFact:
    internship_id: str
    kind: str
    status: str  # active | completed | terminated | cancelled
    hours: float = 0.0
    evaluation: str | None = None
    # The plan of a post internship (internship.started), for its pace (deadlines.py).
    start_on: date | None = None
    planned_end_on: date | None = None
    weekly_hours: float | None = None


@dataclass(frozen=True)
class StudentRecord:
    enrolled: bool = False
    status: str | None = None  # enrolled | suspended | withdrawn
    certificates: tuple[Certificate, ...] = ()
    internships: tuple[InternshipFact, ...] = ()
    labor_completed: bool = False
    waivers: tuple[Waiver, ...] = ()
    lifecycle: Lifecycle | None = None
    rejected_internships: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    # The credit bank's facts (credits.events), for ACADEMIC.
    major_code: str | None = None
    courses: tuple[CourseFact, ...] = ()
    credits: tuple[CreditFact, ...] = ()

    def passed_post_hours(self) -> float:
        """Hours of the post internships completed with a pass: what INTERNSHIP counts."""
        return sum(i.hours for i in self.passed_posts())

    def passed_posts(self) -> list[InternshipFact]:
        return [
            i
            for i in self.internships
            if i.kind == "post" and i.status == "completed" and i.evaluation == "pass"
        ]


@dataclass(frozen=True)
class RequirementResult:
    code: str
    met: bool
    detail: str
    state: str | None = None  # met | on_track | at_risk | overdue (deadlines.py)
    due_on: date | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "met": self.met,
            "detail": self.detail,
            "state": self.state,
            "due_on": self.due_on.isoformat() if self.due_on else None,
        }


@dataclass(frozen=True)
class Decision:
    eligible: bool
    requirements: tuple[RequirementResult, ...]
    policy_version: str

    @property
    def missing(self) -> list[str]:
        return [r.code for r in self.requirements if not r.met]


def _valid(record: StudentRecord, kind: str) -> list[Certificate]:
    return [c for c in record.certificates if c.kind == kind and not c.revoked]


def enrolled(record: StudentRecord, _r: Requirement) -> RequirementResult:
    if not record.enrolled:
        return RequirementResult("ENROLLED", False, "no enrollment received for this student")
    if record.status == "withdrawn":
        return RequirementResult("ENROLLED", False, "withdrawn: never eligible to graduate")
    if record.status == "suspended":
        return RequirementResult("ENROLLED", False, "suspended: eligible only once resumed")
    if record.status == "graduated":
        return RequirementResult("ENROLLED", True, "graduated (confirmed by the school)")
    return RequirementResult("ENROLLED", True, "enrolled")


def _held(code: str, name: str, certs: list[Certificate]) -> RequirementResult:
    if certs:
        return RequirementResult(code, True, f"{name} held ({', '.join(c.number for c in certs)})")
    return RequirementResult(code, False, f"{name} missing")


def diploma(record: StudentRecord, _r: Requirement) -> RequirementResult:
    return _held("DIPLOMA", "diploma (学历证书)", _valid(record, "diploma"))


def academic(record: StudentRecord, r: Requirement) -> RequirementResult:
    met, detail = assess(record.courses, record.credits, record.major_code, r)
    return RequirementResult("ACADEMIC", met, detail)


def quality(record: StudentRecord, _r: Requirement) -> RequirementResult:
    return _held(
        "QUALITY", "quality-integration certificate (素质融合证书)", _valid(record, "quality")
    )


def skill(record: StudentRecord, r: Requirement) -> RequirementResult:
    floor = LEVELS.index(r.min_level)
    skills = _valid(record, "skill")
    counted = [
        c
        for c in skills
        if c.level in LEVELS and LEVELS.index(c.level) >= floor and c.issuer_type in r.issuer_types
    ]
    detail = f"{len(counted)} of {r.min_count} at level {r.min_level} or above"
    uncounted = [c for c in skills if c not in counted]
    if uncounted:
        why = ", ".join(f"{c.number}: {c.level}/{c.issuer_type}" for c in uncounted)
        detail += f" (not counted: {why})"
    if len(counted) >= r.min_count:
        return RequirementResult("SKILL_1X", True, f"skill certificates: {detail}")
    return RequirementResult("SKILL_1X", False, f"skill certificate missing: {detail}")


def labor_month(record: StudentRecord, _r: Requirement) -> RequirementResult:
    if record.labor_completed:
        return RequirementResult("LABOR_MONTH", True, "June labor-education month completed")
    return RequirementResult(
        "LABOR_MONTH", False, "June labor-education month (2nd school year) not recorded"
    )


def internship(record: StudentRecord, r: Requirement) -> RequirementResult:
    done = record.passed_posts()
    hours = sum(i.hours for i in done)  # (passed_post_hours, without a second pass)
    # Corrected (accepted under the same id) or cancelled: no longer open.
    answered = {i.internship_id for i in record.internships}
    open_breaches = [
        (iid, codes) for iid, codes in record.rejected_internships if iid not in answered
    ]
    if open_breaches and hours < r.min_hours:
        which = "; ".join(f"{iid} ({', '.join(codes)})" for iid, codes in open_breaches)
        return RequirementResult(
            "INTERNSHIP",
            False,
            f"rejected internship neither corrected nor cancelled: {which}; "
            f"post internship hours {hours:g} of {r.min_hours:g}",
        )
    if not done:
        return RequirementResult(
            "INTERNSHIP", False, f"no completed post internship (岗位实习) of {r.min_hours:g} hours"
        )
    if hours < r.min_hours:
        return RequirementResult(
            "INTERNSHIP", False, f"post internship hours {hours:g} of {r.min_hours:g} required"
        )
    return RequirementResult(
        "INTERNSHIP", True, f"post internship completed: {hours:g} of {r.min_hours:g} hours"
    )


CHECKS = {
    "ENROLLED": enrolled,
    "ACADEMIC": academic,
    "DIPLOMA": diploma,
    "SKILL_1X": skill,
    "QUALITY": quality,
    "LABOR_MONTH": labor_month,
    "INTERNSHIP": internship,
}


def decide(record: StudentRecord, policy: GraduationPolicy, on: date | None = None) -> Decision:
    """`on` is the decision date (waivers expire); the service passes the broker's date of
    the newest fact, so a replay decides alike. Without it, today."""
    day = on or date.today()
    results = tuple(
        with_deadline(
            apply_waivers(CHECKS[r.code](record, r), record.waivers, policy, day),
            record,
            policy,
            day,
            r,
        )
        for r in policy.requirements
    )
    return Decision(all(r.met for r in results), results, policy.version)


def missing_for_diploma(
    record: StudentRecord, policy: GraduationPolicy, on: date | None = None
) -> list[str]:
    """What keeps the student from a diploma on `on`: every unmet requirement but DIPLOMA
    itself (a requirement only of the legacy policy, where the diploma is what is asked)."""
    return [code for code in decide(record, policy, on).missing if code != "DIPLOMA"]
