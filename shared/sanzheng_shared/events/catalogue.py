"""The `data` shape of every event type of SPEC §3.2 (inbound) and §3.3 (emitted).

Unknown fields are ignored; missing required ones reject. Dates are ISO 8601.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError

from sanzheng_shared.events.text import UNSTORABLE


def fault(field: str, message: str, *, missing: bool = False) -> PydanticCustomError:
    """An error of the whole event that one field is at fault for: pydantic places a model
    validator's errors on no field, and a rejection must name the field (SPEC §3.3)."""
    kind = "data_required" if missing else "data_invalid"
    return PydanticCustomError(kind, message, {"field": field})


Evaluation = Literal["pass", "fail"]
InternshipKind = Literal["cognitive", "post"]
# 岗位实习 is done 辅助 (assisted, the old 跟岗) or 相对独立 (independent, the old 顶岗).
InternshipMode = Literal["assisted", "independent"]
CertificateKind = Literal["diploma", "skill", "quality"]
SkillLevel = Literal["junior", "intermediate", "senior"]
IssuerType = Literal["x_certificate", "skill_level_recognition", "vocational_qualification"]
VenueType = Literal[
    "factory",
    "office",
    "store",
    "farm",
    "hospital",
    "school",
    "entertainment",
    "internet_cafe",
    "game_hall",
    "other",
]

# Producers still send the terms of the 2016 regulation and Chinese labels: each becomes a
# (kind, mode) of the 2021 regulation, which merged 跟岗 and 顶岗 into 岗位实习 (Art. 2).
LEGACY_INTERNSHIP_KINDS: dict[str, tuple[str, str | None]] = {
    "认识实习": ("cognitive", None),
    "认知实习": ("cognitive", None),
    "认识": ("cognitive", None),
    "认知": ("cognitive", None),
    "follow": ("post", "assisted"),
    "跟岗实习": ("post", "assisted"),
    "跟岗": ("post", "assisted"),
    "岗位实习": ("post", None),
    "岗位": ("post", None),
    "顶岗实习": ("post", "independent"),
    "顶岗": ("post", "independent"),
    "dinggang": ("post", "independent"),
}


def legacy_kind(data: dict[str, Any]) -> dict[str, Any]:
    """`kind` as the 2021 regulation names it, with the `mode` an old term implies (a mode
    the producer gave wins)."""
    kind = data.get("kind")
    if not isinstance(kind, str):
        return data
    key = kind.strip()
    default = (key.lower(), None)
    new_kind, mode = LEGACY_INTERNSHIP_KINDS.get(
        key, LEGACY_INTERNSHIP_KINDS.get(key.lower(), default)
    )
    out = {**data, "kind": new_kind}
    if mode is not None and not out.get("mode"):
        out["mode"] = mode
    return out


def check_uscc(value: str) -> str:
    """The compact 统一社会信用代码, or ValueError: quotas count one employer across schools."""
    try:
        return str(uscc.validate(value))
    except ValidationError as exc:
        raise ValueError(f"not a valid 统一社会信用代码 ({exc})") from None


def _iso_text(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and len(value) <= 32):
        return value
    raise PydanticCustomError("date_type", "a date as ISO 8601 text (YYYY-MM-DD)")


# Strict types (SPEC §8): "yes" is not a boolean, "2024" not a number, NaN no number at all.
# Dates arrive as ISO 8601 text in JSON, so they alone are parsed from text (and only text).
Day = Annotated[date, BeforeValidator(_iso_text), Field(strict=False)]


class EventData(BaseModel):
    model_config = ConfigDict(
        extra="ignore", str_strip_whitespace=True, strict=True, allow_inf_nan=False
    )


_DATA_TEXT: TypeAdapter[str] = TypeAdapter(str, config=EventData.model_config)


def event_data(event: Any) -> dict[str, Any]:
    """An event's `data` when it is an object, else empty: the keys a batch locks are read
    before the event is validated, and `data` may be anything until then."""
    return event.data if isinstance(event.data, dict) else {}


def data_text(value: Any) -> str | None:
    """A text field of an event's `data` as its model reads it (stripped as pydantic strips,
    which is not `str.strip`), or None when it is not text or is empty: what a key shared
    between students is made of, before the event itself is validated."""
    if not isinstance(value, str) or UNSTORABLE.search(value):
        # Such an event is refused with its rule once validated; until then it names no key
        # (a NUL cannot be locked, and refusing the lock failed the whole batch).
        return None
    return _DATA_TEXT.validate_python(value) or None


class StudentEnrolled(EventData):
    name: str = Field(min_length=1, max_length=100)
    birth_date: Day
    national_id: str | None = Field(default=None, max_length=32)
    major_code: str = Field(min_length=1, max_length=20)
    major_name: str = Field(min_length=1, max_length=100)
    class_id: str = Field(min_length=1, max_length=50)
    cohort: int = Field(ge=1990, le=2100)
    program_years: int = Field(default=3, ge=1, le=6)
    enrolled_on: Day


class StudentStatusChanged(EventData):
    on: Day
    reason: str | None = Field(default=None, max_length=500)


class StudentTransferred(EventData):
    """A change of school (or of class and major within one). Between schools it takes
    effect with both schools' agreement — each sends this event with the same
    `transfer_id` — or with the bureau's approval (sent with source `bureau/<id>`)."""

    transfer_id: str = Field(min_length=1, max_length=100)
    to_school_id: str = Field(min_length=1, max_length=50)
    to_class_id: str = Field(min_length=1, max_length=50)
    to_major_code: str | None = Field(default=None, max_length=20)
    to_major_name: str | None = Field(default=None, max_length=100)
    on: Day
    reason: str | None = Field(default=None, max_length=500)


class InternshipStarted(EventData):
    """dataversion 2 (SPEC §3.2). For a `post` internship the planned hours, pay and staff
    figures are required by the rules (DATA_REQUIRED), not here: a missing one is a
    reason with its field, like any breach."""

    internship_id: str = Field(min_length=1, max_length=100)
    kind: InternshipKind
    mode: InternshipMode | None = None
    employer_id: str = Field(min_length=1, max_length=100)
    employer_name: str = Field(min_length=1, max_length=200)
    post_title: str = Field(min_length=1, max_length=200)
    # "The same post" of the 20% quota: a code of the policy's post categories (optional;
    # without it the title places the post).
    post_category: str | None = Field(default=None, min_length=1, max_length=50)
    start_on: Day
    planned_end_on: Day
    agreement_signed: bool = False
    guardian_consent: bool = False
    insurance_policy_no: str | None = Field(default=None, max_length=100)
    daily_hours: float | None = Field(default=None, ge=0, le=24)
    weekly_hours: float | None = Field(default=None, ge=0, le=168)
    night_shift: bool = False
    overtime: bool = False
    holiday_work: bool = False
    monthly_pay: float | None = Field(default=None, ge=0)
    post_wage: float | None = Field(default=None, ge=0)
    pay_in_money: bool = True
    paid_directly: bool | None = None
    pay_period_days: int | None = Field(default=None, ge=1, le=366)
    employer_staff: int | None = Field(default=None, ge=0)
    employer_post_staff: int | None = Field(default=None, ge=0)
    interns_at_employer: int | None = Field(default=None, ge=0)
    interns_on_post: int | None = Field(default=None, ge=0)
    fees_charged: bool = False
    venue_type: VenueType = "other"
    via_intermediary: bool = False
    intensity_level: int | None = Field(default=None, ge=1, le=4)
    prohibited_for_minors: bool = False
    prohibited_for_women: bool = False

    @model_validator(mode="before")
    @classmethod
    def _legacy_kind(cls, value: Any) -> Any:
        return legacy_kind(value) if isinstance(value, dict) else value

    @field_validator("employer_id")
    @classmethod
    def _uscc(cls, value: str) -> str:
        return check_uscc(value)

    @model_validator(mode="after")
    def _consistent(self) -> InternshipStarted:
        if self.planned_end_on < self.start_on:
            raise fault("planned_end_on", "`planned_end_on` is before `start_on`")
        if self.kind == "cognitive":
            self.mode = None
        return self


class InternshipCompleted(EventData):
    internship_id: str = Field(min_length=1, max_length=100)
    end_on: Day
    hours: float = Field(ge=0, le=10000)
    evaluation: Evaluation


class InternshipTerminated(EventData):
    internship_id: str = Field(min_length=1, max_length=100)
    on: Day
    reason: str | None = Field(default=None, max_length=500)


class InternshipCancelled(EventData):
    """A submission withdrawn by the school (wrong data, a placement that did not happen)."""

    internship_id: str = Field(min_length=1, max_length=100)
    on: Day
    reason: str | None = Field(default=None, max_length=500)


class InternshipExpired(EventData):
    """Emitted by the internship service (never sent by a school): an internship still
    `active` longer than the policy allows past its planned end. It stops counting as a
    running placement; a completion or termination sent later still closes it."""

    internship_id: str = Field(min_length=1, max_length=100)
    on: Day
    planned_end_on: Day


class LaborEducationCompleted(EventData):
    period_start: Day
    period_end: Day
    hours: float = Field(ge=0, le=1000)
    site: str = Field(min_length=1, max_length=200)
    evaluation: Evaluation


class LaborEducationExempted(EventData):
    """The old form of a LABOR_MONTH waiver (SPEC §2.3). Accepted only with what a waiver
    needs: the approver's role (allowed by the policy), a reason category and an expiry;
    it then counts as a waiver whose id is the canonical event's id (revocable by it)."""

    reason: str = Field(min_length=1, max_length=500)
    approved_by: str = Field(min_length=1, max_length=100)
    on: Day
    approver_role: str | None = Field(default=None, max_length=20)
    reason_category: str | None = Field(default=None, max_length=20)
    expires_on: Day | None = None


class Approver(EventData):
    """Who approved (or revoked) a waiver: recorded by the gateway from the token."""

    name: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=20)
    token_id: str | None = Field(default=None, max_length=100)


class WaiverEvidence(EventData):
    kind: str = Field(default="document", min_length=1, max_length=50)
    reference: str = Field(min_length=1, max_length=200)


class RequirementWaived(EventData):
    """A requirement waived for one student (SPEC §2.5), until `expires_on`; the policy says
    which requirement, role and reason category may be waived."""

    waiver_id: str = Field(min_length=1, max_length=100)
    requirement: str = Field(min_length=1, max_length=30)
    reason_category: str = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=1, max_length=500)
    approver: Approver
    granted_on: Day
    expires_on: Day
    evidence: WaiverEvidence | None = None

    @model_validator(mode="after")
    def _expires_after_granted(self) -> RequirementWaived:
        if self.expires_on < self.granted_on:
            raise fault("expires_on", "`expires_on` is before `granted_on`")
        return self


class RequirementWaiverRevoked(EventData):
    waiver_id: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    revoked_by: Approver
    on: Day


class CertificateEarned(EventData):
    certificate_no: str = Field(min_length=1, max_length=100)
    kind: CertificateKind
    title: str = Field(min_length=1, max_length=200)
    level: SkillLevel | None = None
    issuer_type: IssuerType | None = None
    issuer: str = Field(min_length=1, max_length=200)
    issued_on: Day

    @model_validator(mode="after")
    def _skill_has_level(self) -> CertificateEarned:
        if self.kind == "skill" and self.level is None:
            message = "a skill certificate needs `level` (junior|intermediate|senior)"
            raise fault("level", message, missing=True)
        if self.kind == "skill" and self.issuer_type is None:
            raise fault("issuer_type", "a skill certificate needs `issuer_type`", missing=True)
        return self


class CertificateRevoked(EventData):
    certificate_no: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    on: Day


CourseCategory = Literal["public-basic", "professional", "practice"]
RecognitionKind = Literal["transfer", "certificate", "prior_learning"]


class CourseCompleted(EventData):
    """A course of the program, completed (passed or failed) in a term (SPEC §2.6). The
    result is a `score` (0-100, passed from 60) or `passed`; with both, `passed` wins."""

    course_code: str = Field(min_length=1, max_length=50)
    course_name: str = Field(min_length=1, max_length=200)
    category: CourseCategory
    class_hours: float = Field(gt=0, le=2000)
    practice_hours: float = Field(ge=0, le=2000)
    credits: float = Field(ge=0, le=100)
    score: float | None = Field(default=None, ge=0, le=100)
    passed: bool | None = None
    term: str = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _has_result(self) -> CourseCompleted:
        if self.score is None and self.passed is None:
            raise fault("score", "a completed course needs `score` or `passed`", missing=True)
        if self.passed is None:
            self.passed = (self.score or 0) >= 60
        return self


class Evidence(EventData):
    kind: str = Field(min_length=1, max_length=50)
    reference: str = Field(min_length=1, max_length=200)


class CreditRecognized(EventData):
    """Credit from outside the program (transfer, a converted certificate, prior
    learning), with its evidence and approver; `course_code` names the course it exempts
    from (免修), if any. `recognition_id` is what `credit.revoked` names."""

    recognition_id: str = Field(min_length=1, max_length=100)
    credits: float = Field(gt=0, le=100)
    kind: RecognitionKind
    category: CourseCategory = "professional"
    course_code: str | None = Field(default=None, max_length=50)
    practice_hours: float = Field(default=0, ge=0, le=2000)
    evidence: Evidence
    approver: str = Field(min_length=1, max_length=100)
    on: Day | None = None


class CreditRevoked(EventData):
    recognition_id: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    on: Day


class RejectionReason(EventData):
    code: str
    message: str
    field: str | None = None


class SubmissionRejected(EventData):
    source: str
    id: str
    type: str
    reasons: list[RejectionReason]


class SubmissionHeld(EventData):
    source: str
    id: str
    type: str
    waiting_for: str


class SubmissionReleased(EventData):
    source: str
    id: str
    type: str
    waiting_for: str | None = None
    """the fact it waited for (a submission may be held, and released, more than once)"""


class ConflictingClaim(EventData):
    source: str
    id: str


class EnrollmentConflict(EventData):
    """To the owning school (and the bureau): another school tried to enroll one of its
    students' national id. The claiming school only learns "enrolled at another school"."""

    student_id: str
    national_id_masked: str | None = None
    claimed_by_school: str | None = None
    claimed_as_student: str
    claim: ConflictingClaim


class RequirementResult(EventData):
    code: str
    met: bool
    detail: str
    # On the decision date (SPEC §2.5): met | on_track | at_risk | overdue; when it is due.
    state: Literal["met", "on_track", "at_risk", "overdue"] | None = None
    due_on: Day | None = None


class EligibilityChanged(EventData):
    eligible: bool
    requirements: list[RequirementResult]
    policy_version: str
    decided_at: str


class DailyEvaluation(EventData):
    """A clock event of the certificates service (never on the broker): decide the student
    again on this day, because states move with the date (SPEC §2.5)."""

    on: Day


class StudentRisk(EventData):
    """`student.at_risk`: a requirement became at risk or overdue; `student.risk_cleared`:
    it is met or on track again (SPEC §2.5)."""

    requirement: str
    state: Literal["met", "on_track", "at_risk", "overdue"]
    due_on: Day | None = None
    detail: str
    decided_at: str


DATA_MODELS: dict[str, type[EventData]] = {
    "student.enrolled": StudentEnrolled,
    "student.suspended": StudentStatusChanged,
    "student.resumed": StudentStatusChanged,
    "student.withdrawn": StudentStatusChanged,
    "student.transferred": StudentTransferred,
    "student.repeated_year": StudentStatusChanged,
    "student.graduated": StudentStatusChanged,
    "internship.started": InternshipStarted,
    "internship.completed": InternshipCompleted,
    "internship.terminated": InternshipTerminated,
    "internship.cancelled": InternshipCancelled,
    "internship.expired": InternshipExpired,
    "labor_education.completed": LaborEducationCompleted,
    "labor_education.exempted": LaborEducationExempted,
    "certificate.earned": CertificateEarned,
    "certificate.revoked": CertificateRevoked,
    "requirement.waived": RequirementWaived,
    "requirement.waiver_revoked": RequirementWaiverRevoked,
    "course.completed": CourseCompleted,
    "credit.recognized": CreditRecognized,
    "credit.revoked": CreditRevoked,
    "submission.rejected": SubmissionRejected,
    "enrollment.conflict": EnrollmentConflict,
    "submission.held": SubmissionHeld,
    "submission.released": SubmissionReleased,
    "graduation.eligibility_changed": EligibilityChanged,
    "student.at_risk": StudentRisk,
    "student.risk_cleared": StudentRisk,
    "graduation.daily_evaluation": DailyEvaluation,
}

INBOUND_TYPES: dict[str, frozenset[str]] = {
    "enrollment": frozenset(
        {
            "student.enrolled",
            "student.suspended",
            "student.resumed",
            "student.withdrawn",
            "student.transferred",
            "student.repeated_year",
            "student.graduated",
        }
    ),
    "internship": frozenset(
        {
            "internship.started",
            "internship.completed",
            "internship.terminated",
            "internship.cancelled",
        }
    ),
    "labor-education": frozenset({"labor_education.completed", "labor_education.exempted"}),
    "certificates": frozenset(
        {
            "certificate.earned",
            "certificate.revoked",
            "requirement.waived",
            "requirement.waiver_revoked",
        }
    ),
    "credits": frozenset({"course.completed", "credit.recognized", "credit.revoked"}),
}


# Published only by the gateway, which records the approver from its token: a school's
# `POST /v1/events` may not claim a waiver (TYPE_NOT_ALLOWED).
GATEWAY_ONLY_TYPES = frozenset({"requirement.waived", "requirement.waiver_revoked"})


def data_model_for(event_type: str) -> type[EventData] | None:
    return DATA_MODELS.get(event_type)
