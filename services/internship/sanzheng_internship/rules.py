"""The internship rules of SPEC §2.2 (《职业学校学生实习管理规定》, 2021), as pure functions.

Each rule returns the breaches it finds: a stable code, a message a person can act on,
the field at fault, and the severity the policy gives that code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sanzheng_shared.domain.school_year import age_on, grade_year
from sanzheng_shared.events.catalogue import InternshipStarted
from sanzheng_shared.policy import GraduationPolicy

BANNED_VENUES = {
    "entertainment": "娱乐场所 (bar, nightclub, KTV, bath house)",
    "internet_cafe": "网吧 (internet café)",
    "game_hall": "电子游戏厅 (video-game hall)",
}
MAX_DAILY_HOURS = 8
MAX_WEEKLY_HOURS = 40
MAX_SHARE_OF_STAFF = 0.10
MAX_SHARE_OF_POST = 0.20
MIN_PAY_SHARE = 0.80
# "About 6 months in total": more than 7 months planned is flagged.
MAX_POST_DAYS = 213


@dataclass(frozen=True)
class StudentFacts:
    birth_date: date
    cohort: int


@dataclass(frozen=True)
class EmployerLoad:
    """Active `post` interns already placed, from the service's own projection."""

    at_employer: int = 0
    on_post: int = 0
    student_post_days: int = 0  # planned days of the student's other post internships


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    field: str


@dataclass(frozen=True)
class Breach(Finding):
    severity: str

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "severity": self.severity,
        }


Rule = Callable[[InternshipStarted, StudentFacts, EmployerLoad], list[Finding]]


def min_age(s: InternshipStarted, st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    age = age_on(st.birth_date, s.start_on)
    if s.kind == "post" and age < 16:
        return [
            Finding(
                "INT_MIN_AGE",
                f"a post internship needs the student to be 16 on the "
                f"start date; the student is {age} on {s.start_on}",
                "start_on",
            )
        ]
    return []


def first_year(s: InternshipStarted, st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    year = grade_year(st.cohort, s.start_on)
    if s.kind == "post" and year <= 1:
        return [
            Finding(
                "INT_FIRST_YEAR",
                f"no post internship in the first school year; cohort "
                f"{st.cohort} is in year {year} on {s.start_on}",
                "start_on",
            )
        ]
    return []


def agreement(s: InternshipStarted, st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    if s.kind != "post":
        return []
    out = []
    if not s.agreement_signed:
        out.append(
            Finding(
                "INT_AGREEMENT",
                "a post internship needs the tripartite agreement "
                "(school, employer, student) signed",
                "agreement_signed",
            )
        )
    if age_on(st.birth_date, s.start_on) < 18 and not s.guardian_consent:
        out.append(
            Finding(
                "INT_AGREEMENT",
                "the student is under 18: the guardian's written consent is required",
                "guardian_consent",
            )
        )
    return out


def insurance(s: InternshipStarted, _st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    if not s.insurance_policy_no:
        return [
            Finding(
                "INT_INSURANCE",
                "internship liability insurance (实习责任保险) is required: give its policy number",
                "insurance_policy_no",
            )
        ]
    return []


def hours(s: InternshipStarted, _st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    out = []
    if s.daily_hours is not None and s.daily_hours > MAX_DAILY_HOURS:
        out.append(
            Finding(
                "INT_HOURS",
                f"at most {MAX_DAILY_HOURS} hours a day; planned {s.daily_hours:g}",
                "daily_hours",
            )
        )
    if s.weekly_hours is not None and s.weekly_hours > MAX_WEEKLY_HOURS:
        out.append(
            Finding(
                "INT_HOURS",
                f"at most {MAX_WEEKLY_HOURS} hours a week; planned {s.weekly_hours:g}",
                "weekly_hours",
            )
        )
    return out


def night_shift(s: InternshipStarted, _st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    if s.night_shift:
        return [Finding("INT_NIGHT_SHIFT", "interns may not work night shifts", "night_shift")]
    return []


def overtime(s: InternshipStarted, _st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    out = []
    if s.overtime:
        out.append(Finding("INT_OVERTIME", "interns may not work overtime", "overtime"))
    if s.holiday_work:
        out.append(
            Finding("INT_OVERTIME", "interns may not work on statutory holidays", "holiday_work")
        )
    return out


def quota(s: InternshipStarted, _st: StudentFacts, load: EmployerLoad) -> list[Finding]:
    if s.kind != "post":
        return []
    out = []
    interns = max(load.at_employer + 1, s.interns_at_employer or 0)
    if s.employer_staff and interns > MAX_SHARE_OF_STAFF * s.employer_staff:
        out.append(
            Finding(
                "INT_QUOTA",
                f"{interns} post interns at {s.employer_name} exceed 10% "
                f"of its {s.employer_staff} staff",
                "employer_staff",
            )
        )
    on_post = max(load.on_post + 1, s.interns_on_post or 0)
    if s.employer_post_staff and on_post > MAX_SHARE_OF_POST * s.employer_post_staff:
        out.append(
            Finding(
                "INT_QUOTA",
                f"{on_post} interns on post '{s.post_title}' exceed 20% "
                f"of its {s.employer_post_staff} staff",
                "employer_post_staff",
            )
        )
    return out


def pay(s: InternshipStarted, _st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    if s.kind != "post":
        return []
    out = []
    if s.monthly_pay is not None and s.post_wage and s.monthly_pay < MIN_PAY_SHARE * s.post_wage:
        out.append(
            Finding(
                "INT_PAY",
                f"pay {s.monthly_pay:g} is below 80% of the post's wage "
                f"{s.post_wage:g} ({MIN_PAY_SHARE * s.post_wage:g})",
                "monthly_pay",
            )
        )
    if not s.pay_in_money:
        out.append(Finding("INT_PAY", "pay must be monthly and in money", "pay_in_money"))
    return out


def fees(s: InternshipStarted, _st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    if s.fees_charged:
        return [
            Finding(
                "INT_FEES",
                "neither the school nor the employer may charge the intern a fee or a deposit",
                "fees_charged",
            )
        ]
    return []


def duration(s: InternshipStarted, _st: StudentFacts, load: EmployerLoad) -> list[Finding]:
    if s.kind != "post":
        return []
    days = (s.planned_end_on - s.start_on).days + load.student_post_days
    if days > MAX_POST_DAYS:
        return [
            Finding(
                "INT_DURATION",
                f"post internships last about 6 months in total; {days} days are planned",
                "planned_end_on",
            )
        ]
    return []


def venue(s: InternshipStarted, _st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    out = []
    if s.venue_type in BANNED_VENUES:
        out.append(
            Finding("INT_VENUE", f"no placement at {BANNED_VENUES[s.venue_type]}", "venue_type")
        )
    if s.via_intermediary:
        out.append(
            Finding(
                "INT_VENUE",
                "placements may not be arranged through intermediaries or paid agents",
                "via_intermediary",
            )
        )
    return out


def hazard(s: InternshipStarted, st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    if not s.hazardous_work:
        return []
    minor = age_on(st.birth_date, s.start_on) < 18
    extra = "; the student is a minor (work banned for juvenile workers)" if minor else ""
    return [
        Finding(
            "INT_HAZARD",
            "no labor of intensity level III or above and no high-risk "
            f"work (heights, underground, radioactive, toxic, explosive){extra}",
            "hazardous_work",
        )
    ]


RULES: tuple[Rule, ...] = (
    min_age,
    first_year,
    agreement,
    insurance,
    hours,
    night_shift,
    overtime,
    quota,
    pay,
    fees,
    duration,
    venue,
    hazard,
)


def check_started(
    started: InternshipStarted,
    student: StudentFacts,
    load: EmployerLoad,
    policy: GraduationPolicy,
) -> list[Breach]:
    return [
        Breach(f.code, f.message, f.field, policy.severity(f.code))
        for rule in RULES
        for f in rule(started, student, load)
    ]
