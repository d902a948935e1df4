"""The graduation policy as data (SPEC §2.5): requirements, their parameters, and the
severity of each internship rule. Files are validated strictly at start."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sanzheng_shared.policy.deadlines import DeadlinePolicy
from sanzheng_shared.policy.waivers import WaiverRule

Severity = Literal["reject", "flag"]
RequirementCode = Literal[
    "ENROLLED", "ACADEMIC", "DIPLOMA", "SKILL_1X", "QUALITY", "LABOR_MONTH", "INTERNSHIP"
]
CourseCategory = Literal["public-basic", "professional", "practice"]
InternshipRule = Literal[
    "INT_MIN_AGE",
    "INT_FIRST_YEAR",
    "INT_AGREEMENT",
    "INT_INSURANCE",
    "INT_HOURS",
    "INT_NIGHT_SHIFT",
    "INT_OVERTIME",
    "INT_QUOTA",
    "INT_PAY",
    "INT_FEES",
    "INT_DURATION",
    "INT_VENUE",
    "INT_HAZARD",
    "INT_HOURS_RECORDED",
]
LEVELS = ("junior", "intermediate", "senior")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InForce(_Strict):
    from_: date = Field(alias="from")
    until: date | None = None

    def covers(self, day: date) -> bool:
        return self.from_ <= day and (self.until is None or day <= self.until)


class AppliesTo(_Strict):
    schools: list[str] = ["*"]
    cohorts: list[int | Literal["*"]] = ["*"]

    def matches(self, school: str | None, cohort: int | None) -> bool:
        return ("*" in self.schools or school in self.schools) and (
            "*" in self.cohorts or cohort in self.cohorts
        )

    @property
    def specificity(self) -> int:
        return (0 if "*" in self.schools else 2) + (0 if "*" in self.cohorts else 1)


class Requirement(_Strict):
    code: RequirementCode
    min_count: int = Field(default=1, ge=1)
    min_level: Literal["junior", "intermediate", "senior"] = "junior"
    issuer_types: list[
        Literal["x_certificate", "skill_level_recognition", "vocational_qualification"]
    ] = ["x_certificate", "skill_level_recognition"]
    min_hours: float = Field(default=480, ge=0)
    # ACADEMIC (学业合格): the program's credits (per major where the plan says so), the
    # credits of each course category, and practice hours above this share of class hours.
    min_credits: float = Field(default=170, ge=0)
    min_credits_by_major: dict[str, float] = {}
    min_category_credits: dict[CourseCategory, float] = {}
    min_practice_share: float = Field(default=0.5, ge=0, lt=1)

    def credits_for(self, major_code: str | None) -> float:
        """The program's minimum credits for a major (the default for any other)."""
        return self.min_credits_by_major.get(major_code or "", self.min_credits)


class LaborEducationPolicy(_Strict):
    # Working days (Monday to Friday): a whole June always holds at least 20 of them.
    min_working_days: int = Field(default=20, ge=1, le=22)
    # A failed month may be made up in the summer holidays that follow it (1 July - 31 August).
    makeup_in_summer: bool = True


class Conversion(_Strict):
    """A skill certificate that converts to credit (学分银行 认定、转换): its `title`, at or
    above `min_level`, from `issuer_type` (any when unset), exempts from `course_code` (免修)
    and gives `credits` in `category`."""

    title: str = Field(min_length=1)
    min_level: Literal["junior", "intermediate", "senior"] = "junior"
    issuer_type: (
        Literal["x_certificate", "skill_level_recognition", "vocational_qualification"] | None
    ) = None
    course_code: str | None = None
    category: CourseCategory = "professional"
    credits: float = Field(gt=0)
    practice_hours: float = Field(default=0, ge=0)


class CreditsPolicy(_Strict):
    """The credit bank (SPEC §2.6): by default 16-18 class hours make a credit. A course's
    credits may differ from its hours by up to `tolerance` credits (rounding to halves)."""

    min_hours_per_credit: float = Field(default=16, gt=0)
    max_hours_per_credit: float = Field(default=18, gt=0)
    tolerance: float = Field(default=0.5, ge=0)
    conversions: list[Conversion] = []

    def conversion_for(
        self, title: str, level: str | None, issuer_type: str | None
    ) -> Conversion | None:
        """The first row that converts this certificate, if any."""
        rank = LEVELS.index(level) if level in LEVELS else -1
        for row in self.conversions:
            if (
                row.title == title
                and rank >= LEVELS.index(row.min_level)
                and row.issuer_type in (None, issuer_type)
            ):
                return row
        return None

    @model_validator(mode="after")
    def _ordered(self) -> CreditsPolicy:
        if self.max_hours_per_credit < self.min_hours_per_credit:
            raise ValueError("max_hours_per_credit is below min_hours_per_credit")
        return self


class MinimumWage(_Strict):
    """The local monthly minimum wage (最低工资标准, its lowest tier) from a date, for the
    administrative divisions whose code starts with `region` (the 3rd-8th characters of an
    employer's 统一社会信用代码)."""

    region: str = Field(pattern=r"^[0-9]{2,6}$")
    from_: date = Field(alias="from")
    monthly: float = Field(gt=0)
    name: str = ""


class LifecyclePolicy(_Strict):
    # A suspension pushes the expected graduation back by its length; rounded up to whole
    # school years, the student rejoins the next cohort's year.
    round_suspension_to_school_years: bool = True


class PostCategory(_Strict):
    """A kind of post (岗位) for the 20% quota of Art. 10: interns "on the same post" are
    those whose post is of one category, whatever the employer calls it. `titles` are post
    titles known to be of the category (a submission without `post_category` is placed by
    its title)."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
    name: str = ""
    titles: list[str] = []


class InternshipsPolicy(_Strict):
    expire_active_after_days: int = Field(default=30, ge=1)
    """An internship still `active` this many days after its planned end expires: it no
    longer counts as a running placement (quotas) and the school is told (INT_EXPIRED)."""
    post_categories: list[PostCategory] = []

    def category(self, code: str | None) -> PostCategory | None:
        return next((c for c in self.post_categories if c.code == code), None)

    def post_kind(self, post_category: str | None, post_title: str) -> str:
        """What "the same post" compares: the category sent, else the category one of whose
        titles is this title, else the title itself (spaces and case aside)."""
        if post_category:
            return post_category
        title = _normal(post_title)
        for c in self.post_categories:
            if any(_normal(t) == title for t in c.titles):
                return c.code
        return f"title:{title}"


def _normal(title: str) -> str:
    return "".join(title.split()).casefold()


class PendingPolicy(_Strict):
    expire_after_days: int = Field(default=30, ge=1)
    """A submission held longer than this is stale: listed, counted, and expirable by the
    operator into a rejection PENDING_EXPIRED."""


class GraduationPolicy(_Strict):
    version: str = Field(min_length=1)
    title: str = ""
    in_force: InForce
    applies_to: AppliesTo = AppliesTo()
    requirements: list[Requirement] = Field(min_length=1)
    internship_rules: dict[InternshipRule, Severity]
    labor_education: LaborEducationPolicy = LaborEducationPolicy()
    internships: InternshipsPolicy = InternshipsPolicy()
    credits: CreditsPolicy = CreditsPolicy()
    minimum_wages: list[MinimumWage] = []
    lifecycle: LifecyclePolicy = LifecyclePolicy()
    pending: PendingPolicy = PendingPolicy()
    waivers: dict[RequirementCode, WaiverRule] = {}
    deadlines: DeadlinePolicy = DeadlinePolicy()

    @model_validator(mode="after")
    def _complete(self) -> GraduationPolicy:
        codes = [r.code for r in self.requirements]
        if len(codes) != len(set(codes)):
            raise ValueError("a requirement code is listed twice")
        missing = set(InternshipRule.__args__) - set(self.internship_rules)  # type: ignore[attr-defined]
        if missing:
            raise ValueError(f"internship_rules lacks a severity for {sorted(missing)}")
        unknown = set(self.deadlines.due) - set(RequirementCode.__args__)  # type: ignore[attr-defined]
        if unknown:  # a misspelt code would silently fall back to the graduation day
            raise ValueError(f"deadlines.due names no requirement: {sorted(unknown)}")
        return self

    def requirement(self, code: str) -> Requirement | None:
        return next((r for r in self.requirements if r.code == code), None)

    def minimum_wage(self, employer_id: str, day: date) -> MinimumWage | None:
        """The minimum wage in force on `day` where the employer is registered: the longest
        matching region prefix, then the latest date."""
        region = employer_id[2:8]
        rows = [w for w in self.minimum_wages if region.startswith(w.region) and w.from_ <= day]
        return max(rows, key=lambda w: (len(w.region), w.from_), default=None)

    def severity(self, rule: str) -> Severity:
        return self.internship_rules[rule]  # type: ignore[index]
