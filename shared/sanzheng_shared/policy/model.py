"""The graduation policy as data (SPEC §2.5): requirements, their parameters, and the
severity of each internship rule. Files are validated strictly at start."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["reject", "flag"]
RequirementCode = Literal["ENROLLED", "DIPLOMA", "SKILL_1X", "QUALITY", "LABOR_MONTH", "INTERNSHIP"]
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


class LaborEducationPolicy(_Strict):
    min_days: int = Field(default=28, ge=1, le=31)


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
    pending: PendingPolicy = PendingPolicy()

    @model_validator(mode="after")
    def _complete(self) -> GraduationPolicy:
        codes = [r.code for r in self.requirements]
        if len(codes) != len(set(codes)):
            raise ValueError("a requirement code is listed twice")
        missing = set(InternshipRule.__args__) - set(self.internship_rules)  # type: ignore[attr-defined]
        if missing:
            raise ValueError(f"internship_rules lacks a severity for {sorted(missing)}")
        return self

    def requirement(self, code: str) -> Requirement | None:
        return next((r for r in self.requirements if r.code == code), None)

    def severity(self, rule: str) -> Severity:
        return self.internship_rules[rule]  # type: ignore[index]
