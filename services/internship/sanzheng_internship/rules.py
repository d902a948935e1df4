"""The internship rules of SPEC §2.2 (《职业学校学生实习管理规定》, 2021), as pure functions.

Each rule returns the breaches it finds: a stable code, a message a person can act on,
the field at fault, and the severity the policy gives that code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from sanzheng_shared.domain.school_year import age_on, grade_year, working_days
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
MAX_PAY_PERIOD_DAYS = 31  # "at least monthly"
# "About 6 months in total": more than 7 months planned is flagged.
MAX_POST_DAYS = 213


@dataclass(frozen=True)
class StudentFacts:
    birth_date: date
    cohort: int
    # From the national id's 17th digit at enrollment ("F" | "M"); None when none was given.
    sex: str | None = None
    # School years added by the lifecycle (a suspension, a repeated year): the grade year is
    # the cohort's minus these.
    years_behind: int = 0

    def grade_year(self, day: date) -> int:
        return grade_year(self.cohort, day) - self.years_behind


@dataclass(frozen=True)
class EmployerLoad:
    """Active `post` interns already placed, from the service's own projection."""

    at_employer: int = 0
    on_post: int = 0
    student_post_days: int = 0  # planned days of the student's other post internships
    local_minimum_wage: float | None = None  # where the employer is registered (policy data)


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
    year = st.grade_year(s.start_on)
    if s.kind == "post" and year <= 1:
        return [
            Finding(
                "INT_FIRST_YEAR",
                f"no post internship in the first school year; the student "
                f"(cohort {st.cohort}) is in year {year} on {s.start_on}",
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


def pay(s: InternshipStarted, _st: StudentFacts, load: EmployerLoad) -> list[Finding]:
    """Art. 18: a student working 相对独立 (independent) is paid at least the lower of 80% of
    the same post's probation wage and the local minimum wage, to the student directly, at
    least monthly, in money."""
    if s.kind != "post" or s.mode != "independent":
        return []
    out = []
    floor, basis = None, ""
    if s.post_wage:
        # To the fen, as money is paid: 0.8 × 1234.5 is 987.6000000000001 in floating point,
        # and a pay of exactly 987.6 must not fall below it.
        floor = round(MIN_PAY_SHARE * s.post_wage, 2)
        basis = f"80% of the post's wage {s.post_wage:g}"
    if load.local_minimum_wage is not None and (floor is None or load.local_minimum_wage < floor):
        floor, basis = load.local_minimum_wage, "the local minimum wage"
    if s.monthly_pay is not None and floor is not None and s.monthly_pay < floor:
        out.append(
            Finding(
                "INT_PAY",
                f"pay {s.monthly_pay:g} is below {basis} ({floor:g})",
                "monthly_pay",
            )
        )
    if s.paid_directly is False:
        out.append(
            Finding(
                "INT_PAY",
                "pay goes to the student directly, never through a third party",
                "paid_directly",
            )
        )
    if s.pay_period_days is not None and s.pay_period_days > MAX_PAY_PERIOD_DAYS:
        out.append(
            Finding(
                "INT_PAY",
                f"pay is due at least monthly; the pay period is {s.pay_period_days} days",
                "pay_period_days",
            )
        )
    if not s.pay_in_money:
        out.append(Finding("INT_PAY", "pay must be in money", "pay_in_money"))
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
    """Art. 16(3), (4), (7): no physical labor of intensity III or above; for minors none of
    the work banned for juvenile workers; for female students none of the work banned for
    female workers (《女职工劳动保护特别规定》)."""
    out = []
    if s.intensity_level is not None and s.intensity_level >= 3:
        out.append(
            Finding(
                "INT_HAZARD",
                f"no physical labor of intensity level III or above; planned level "
                f"{['I', 'II', 'III', 'IV'][s.intensity_level - 1]}",
                "intensity_level",
            )
        )
    if s.prohibited_for_minors and age_on(st.birth_date, s.start_on) < 18:
        out.append(
            Finding(
                "INT_HAZARD",
                "the student is a minor: no work banned for juvenile workers (未成年工禁忌劳动)",
                "prohibited_for_minors",
            )
        )
    # Protective when the sex is not known (no national id): the ban is applied.
    if s.prohibited_for_women and st.sex != "M":
        out.append(
            Finding(
                "INT_HAZARD",
                "no work banned for female workers (女职工禁忌劳动) for this student",
                "prohibited_for_women",
            )
        )
    return out


REQUIRED_FOR_POST = (
    "mode",
    "daily_hours",
    "weekly_hours",
    "monthly_pay",
    "employer_staff",
    "employer_post_staff",
)
REQUIRED_FOR_INDEPENDENT = ("post_wage", "paid_directly", "pay_period_days")


def required(s: InternshipStarted, _st: StudentFacts, _l: EmployerLoad) -> list[Finding]:
    """The figures the hours, pay and quota rules check: leaving one out is no way past a
    rule (DATA_REQUIRED, always rejecting)."""
    if s.kind != "post":
        return []
    names = REQUIRED_FOR_POST + (REQUIRED_FOR_INDEPENDENT if s.mode == "independent" else ())
    return [
        Finding("DATA_REQUIRED", f"a post internship needs `{name}`", name)
        for name in names
        if getattr(s, name) is None
    ]


RULES: tuple[Rule, ...] = (
    required,
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
    wage = policy.minimum_wage(started.employer_id, started.start_on)
    load = replace(load, local_minimum_wage=wage.monthly if wage else None)
    return [
        Breach(f.code, f.message, f.field, _severity(f.code, policy))
        for rule in RULES
        for f in rule(started, student, load)
    ] + unknown_post_category(started, policy)


def unknown_post_category(started: InternshipStarted, policy: GraduationPolicy) -> list[Breach]:
    """A `post_category` must be one of the policy's codes: a typo would make a post of its
    own and escape the 20% quota."""
    code = started.post_category
    if code is None or policy.internships.category(code) is not None:
        return []
    known = ", ".join(c.code for c in policy.internships.post_categories) or "none"
    return [
        Breach(
            "DATA_INVALID",
            f"post_category {code!r} is not a post category of policy {policy.version}"
            f" (known: {known})",
            "post_category",
            "reject",
        )
    ]


def _severity(code: str, policy: GraduationPolicy) -> str:
    return policy.severity(code) if code.startswith("INT_") else "reject"


def check_recorded_hours(
    start_on: date, end_on: date, hours: float, policy: GraduationPolicy
) -> list[Breach]:
    """INT_HOURS_RECORDED: a completion's hours are at most 8 per working day between its
    start and its end (Monday to Friday; the regulation's 8 hours a day, 40 a week)."""
    most = MAX_DAILY_HOURS * working_days(start_on, end_on)
    if hours <= most:
        return []
    return [
        Breach(
            "INT_HOURS_RECORDED",
            f"{hours:g} hours recorded, but {start_on}–{end_on} holds at most {most} "
            f"(8 per working day)",
            "hours",
            policy.severity("INT_HOURS_RECORDED"),
        )
    ]
