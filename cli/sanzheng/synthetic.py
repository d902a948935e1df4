"""A synthetic province: schools, classes and students with realistic lifecycles.

Deterministic for a seed. Used by `sanzheng demo`, `sanzheng bench` and the tests. Each
student follows a *profile* (complete, missing a skill certificate, a rule-breaking
internship, withdrawn, …), so a data set has the mix a counselor meets.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum.cn import uscc

MAJORS = [
    ("660701", "数控技术应用"),
    ("710201", "计算机应用"),
    ("730701", "电子商务"),
    ("720201", "护理"),
    ("700206", "汽车运用与维修"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


def _uscc(body: str) -> str:
    """A checksum-valid 统一社会信用代码 (registered in Beijing, region 110105)."""
    return body + uscc.calc_check_digit(body)


EMPLOYERS = [
    (_uscc("91110105MA0000001"), "华东精密机械有限公司", 400, "factory"),
    (_uscc("91110105MA0000002"), "新城信息技术有限公司", 120, "office"),
    (_uscc("91110105MA0000003"), "惠民连锁超市", 300, "store"),
    (_uscc("12110105MB0000004"), "市第一人民医院", 900, "hospital"),
    (_uscc("91110105MA0000005"), "通达汽车服务有限公司", 80, "factory"),
]

# profile -> weight; the decision each profile should lead to is the tests' oracle's job.
PROFILES = {
    "complete": 50,
    "no_skill": 8,
    "skill_not_counted": 3,
    "no_quality": 4,
    "no_labor": 6,
    "labor_exempted": 3,
    "labor_waived": 2,  # a principal waived the month (requirement.waived, sis.certificates)
    "labor_not_june": 3,
    "short_internship": 4,
    "no_insurance": 4,
    "first_year_post": 3,
    "night_shift": 3,
    "withdrawn": 3,
    "skill_revoked": 3,
    "cognitive_only": 3,
    "assisted_first_year": 2,  # the old 跟岗 in the first year: a post internship all the same
    "rejected_then_cancelled": 2,  # a refused submission withdrawn, another placement done
    "rejected_superseded": 2,  # a refused submission left, but other placements meet the hours
    "labor_failed": 2,
    "labor_made_up": 2,  # failed in June, made up in the summer holidays
    "retake": 4,  # failed mathematics, passed the retake: the better attempt counts
    "low_practice": 4,  # professional courses taught as theory: practice under half the hours
    "short_credits": 4,  # electives and a public course missing: under 170 credits
}
# Profiles whose every requirement is met by construction: the school's system sends their
# diploma. It also sends one for some students it wrongly believes eligible (low_practice;
# withdrawn), which the certificates service holds or refuses (GRAD_NOT_ELIGIBLE).
SIS_BELIEVES_ELIGIBLE = {
    "complete",
    "labor_exempted",
    "labor_made_up",
    "rejected_then_cancelled",
    "rejected_superseded",
    "retake",
    "low_practice",
    "withdrawn",
}

# The program of a 3-year major (中职): (term 1-6, category, name, class hours, practice
# hours, credits), 16-18 class hours a credit. About 3,000 class hours, 172-176 credits,
# practice 56% of the hours (the seed: more than half). `{major}` is the major's name.
PROGRAM = [
    (1, "public-basic", "思想政治", 144, 18, 8),
    (1, "public-basic", "语文", 198, 18, 11),
    (2, "public-basic", "数学", 180, 0, 10),
    (2, "public-basic", "英语", 162, 18, 9),
    (1, "public-basic", "信息技术", 108, 54, 6),
    (3, "public-basic", "体育与健康", 144, 126, 8),
    (4, "public-basic", "历史", 72, 0, 4),
    (4, "public-basic", "艺术", 36, 18, 2),
    (2, "professional", "{major}专业基础一", 144, 72, 8),
    (3, "professional", "{major}专业基础二", 144, 72, 8),
    (3, "professional", "{major}专业核心一", 180, 108, 10),
    (4, "professional", "{major}专业核心二", 180, 108, 10),
    (4, "professional", "{major}专业核心三", 144, 90, 8),
    (5, "professional", "{major}专业核心四", 180, 108, 10),
    (5, "professional", "{major}专业拓展", 108, 54, 6),
    (5, "professional", "{major}专业选修一", 108, 54, 6),
    (5, "professional", "{major}专业选修二", 108, 72, 6),
    (4, "practice", "{major}综合实训", 216, 216, 12),
    (6, "practice", "岗位实习（课程）", 540, 540, 30),
]
ELECTIVE = (5, "professional", "{major}专业选修三", 72, 36, 4)  # half the students take it

# Students not in their final year yet: most have nothing running; some were placed in the
# summer before it (a post internship of 180 days from PLACEMENT_START), one at 40 hours a
# week, one at 16, whose plan falls short of the 480 hours: at risk by pace (SPEC §2.5).
RUNNING_PLACEMENTS = ("placed", "placed_behind_pace")
PLACEMENT_START = date(2026, 7, 6)


def _in_progress(n: int, cohort: int) -> str:
    """The profile of the n-th student when not of the final-year cohort (by its number, so
    the random stream, and the rest of the data set, stay as they were)."""
    if cohort + 2 != PLACEMENT_START.year:  # only the summer before the final year
        return "in_progress"
    return {1: "placed", 4: "placed_behind_pace"}.get(n % 6, "in_progress")


@dataclass
class Submission:
    domain: str  # enrollment | internship | labor-education | certificates | credits
    event: dict[str, Any]


@dataclass
class Student:
    student_id: str
    school_id: str
    class_id: str
    cohort: int
    birth_date: date
    profile: str
    submissions: list[Submission] = field(default_factory=list)


def _event(
    rng: random.Random, type_: str, student: Student, data: dict[str, Any], when: date
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "source": f"sis/{student.school_id}",
        "type": type_,
        "time": f"{when.isoformat()}T09:00:00+08:00",
        "subject": student.student_id,
        "datacontenttype": "application/json",
        "schoolid": student.school_id,
        "dataversion": "2" if type_ == "internship.started" else "1",
        "data": data,
    }


def _national_id(rng: random.Random, birth: date, issued: set[str]) -> str:
    """A checksum-valid 身份证号; `issued` keeps two students of a data set from sharing one."""
    while True:
        body = f"110105{birth:%Y%m%d}{rng.randint(100, 999)}"
        if body not in issued:
            issued.add(body)
            break
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


class ProvinceGenerator:
    def __init__(
        self,
        seed: int = 2026,
        schools: int = 3,
        as_of: date = date(2026, 7, 15),
        id_prefix: str = "",
    ) -> None:
        self.rng = random.Random(seed)
        self.schools = [f"SCH{n:03d}" for n in range(1, schools + 1)]
        self.as_of = as_of
        self.id_prefix = id_prefix
        self.issued_ids: set[str] = set()

    def student(self, n: int, profile: str, cohort: int = 2023) -> Student:
        """One student of a chosen profile (the property tests pick the profile)."""
        school = self.schools[n % len(self.schools)]
        major_code, major_name = MAJORS[n % len(MAJORS)]
        birth = date(cohort - 15, 9, 1) - timedelta(days=self.rng.randint(0, 500))
        student = Student(
            f"{self.id_prefix}{school}{cohort}{n:05d}",
            school,
            f"{school}-{cohort}-{major_code}-1",
            cohort,
            birth,
            profile,
        )
        self._lifecycle(student, major_code, major_name)
        return student

    def students(self, count: int) -> Iterator[Student]:
        profiles = list(PROFILES)
        weights = list(PROFILES.values())
        for n in range(count):
            school = self.schools[n % len(self.schools)]
            cohort = self.rng.choice([2023, 2023, 2023, 2024, 2025])
            major_code, major_name = MAJORS[self.rng.randrange(len(MAJORS))]
            class_id = f"{school}-{cohort}-{major_code}-{self.rng.randint(1, 2)}"
            birth = date(cohort - 15, 9, 1) - timedelta(days=self.rng.randint(0, 500))
            profile = (
                self.rng.choices(profiles, weights)[0]
                if cohort == 2023
                else _in_progress(n, cohort)
            )
            student = Student(
                f"{self.id_prefix}{school}{cohort}{n:05d}", school, class_id, cohort, birth, profile
            )
            self._lifecycle(student, major_code, major_name)
            yield student

    def _add(
        self, student: Student, domain: str, type_: str, data: dict[str, Any], when: date
    ) -> None:
        student.submissions.append(Submission(domain, _event(self.rng, type_, student, data, when)))

    def _lifecycle(self, s: Student, major_code: str, major_name: str) -> None:
        rng, p = self.rng, s.profile
        enrolled_on = date(s.cohort, 9, 1)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        self._add(
            s,
            "enrollment",
            "student.enrolled",
            {
                "name": name,
                "birth_date": s.birth_date.isoformat(),
                "national_id": _national_id(rng, s.birth_date, self.issued_ids),
                "major_code": major_code,
                "major_name": major_name,
                "class_id": s.class_id,
                "cohort": s.cohort,
                "program_years": 3,
                "enrolled_on": enrolled_on.isoformat(),
            },
            enrolled_on,
        )
        if p == "withdrawn":
            on = date(s.cohort + 1, 3, 1)
            self._add(
                s, "enrollment", "student.withdrawn", {"on": on.isoformat(), "reason": "转学"}, on
            )
        self._courses(s, major_code, major_name)
        # The 2nd school year of cohort C runs from C+1-09-01: its June is in C+2.
        second_year_june = date(s.cohort + 2, 6, 2)
        if self.as_of < date(s.cohort + 2, 7, 1):
            return  # not past the labor month of the 2nd year yet
        # Labor-education month, June of the second school year.
        if p == "labor_exempted":
            self._add(
                s,
                "labor-education",
                "labor_education.exempted",
                {
                    "reason": "医疗原因 (medical)",
                    "approved_by": "李校长",
                    "on": second_year_june.isoformat(),
                    # An exemption is a LABOR_MONTH waiver: a role the policy allows, a
                    # reason category and an expiry (a year after the expected graduation).
                    "approver_role": "principal",
                    "reason_category": "medical",
                    "expires_on": date(s.cohort + 4, 6, 30).isoformat(),
                },
                second_year_june,
            )
        elif p == "labor_waived":
            self._add(
                s,
                "certificates",
                "requirement.waived",
                {
                    "waiver_id": f"W-{s.student_id}",
                    "requirement": "LABOR_MONTH",
                    "reason_category": "medical",
                    "reason": "术后康复，医嘱不宜参加劳动",
                    "approver": {"name": "王校长", "role": "principal"},
                    "granted_on": second_year_june.isoformat(),
                    "expires_on": date(s.cohort + 4, 6, 30).isoformat(),
                    "evidence": {"kind": "document", "reference": f"医院证明 {s.student_id}"},
                },
                second_year_june,
            )
        elif p == "labor_not_june":
            start = date(s.cohort + 2, 4, 1)
            self._add(
                s,
                "labor-education",
                "labor_education.completed",
                {
                    "period_start": start.isoformat(),
                    "period_end": (start + timedelta(days=29)).isoformat(),
                    "hours": 120,
                    "site": "校内实训基地",
                    "evaluation": "pass",
                },
                start,
            )
        elif p in ("labor_failed", "labor_made_up"):
            self._labor(s, second_year_june, date(s.cohort + 2, 6, 30), "fail")
            if p == "labor_made_up":
                self._labor(s, date(s.cohort + 2, 7, 1), date(s.cohort + 2, 7, 31), "pass")
        elif p != "no_labor":
            self._add(
                s,
                "labor-education",
                "labor_education.completed",
                {
                    "period_start": second_year_june.isoformat(),
                    "period_end": date(s.cohort + 2, 6, 30).isoformat(),
                    "hours": 160,
                    "site": "校内实训基地",
                    "evaluation": "pass",
                },
                second_year_june,
            )
        if p in RUNNING_PLACEMENTS and self.as_of >= PLACEMENT_START:
            # Placed in the summer before the final year; no completion yet.
            weekly = 16 if p == "placed_behind_pace" else 40
            self._internship(s, 1, PLACEMENT_START, weekly_hours=weekly, running=True)
        if s.cohort != 2023:
            return
        self._internships(s)
        self._certificates(s)

    def _term_end(self, s: Student, term: int) -> date:
        """Term 1 is the autumn of the entry year (ends in January), term 2 its spring."""
        year = s.cohort + (term + 1) // 2
        return date(year, 1, 15) if term % 2 else date(year, 6, 30)

    @staticmethod
    def _term_label(s: Student, term: int) -> str:
        """`2023-1`: the school year's first year, then its term."""
        return f"{s.cohort + (term - 1) // 2}-{2 - term % 2}"

    def _courses(self, s: Student, major_code: str, major_name: str) -> None:
        """The courses of every term finished by `as_of` (a withdrawn student's first term
        only), as the school's system reports them on sis.credits."""
        rng, p = self.rng, s.profile
        plan = list(PROGRAM) + ([ELECTIVE] if rng.random() < 0.5 else [])
        if p == "short_credits":  # no electives, no history: about 154 credits
            plan = [c for c in plan if "选修" not in c[2] and c[2] != "历史"]
        last_term = 1 if p == "withdrawn" else 6
        for n, (term, category, name, hours, practice, credits) in enumerate(plan):
            end = self._term_end(s, term)
            if term > last_term or end > self.as_of:
                continue
            if p == "low_practice" and category == "professional":
                practice = hours // 6  # taught as theory
            code = f"{major_code}-{n + 1:02d}"
            course = {
                "course_code": code,
                "course_name": name.format(major=major_name),
                "category": category,
                "class_hours": hours,
                "practice_hours": practice,
                "credits": credits,
                "term": self._term_label(s, term),
            }
            if p == "retake" and name == "数学":
                failed = course | {"score": rng.randint(40, 58)}
                self._add(s, "credits", "course.completed", failed, end)
                again = self._term_end(s, term + 1)
                retake = course | {
                    "score": rng.randint(61, 80),
                    "term": self._term_label(s, term + 1),
                }
                self._add(s, "credits", "course.completed", retake, again)
                continue
            self._add(
                s, "credits", "course.completed", course | {"score": rng.randint(62, 96)}, end
            )

    def _labor(self, s: Student, start: date, end: date, evaluation: str) -> None:
        self._add(
            s,
            "labor-education",
            "labor_education.completed",
            {
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "hours": 160,
                "site": "校内实训基地",
                "evaluation": evaluation,
            },
            start,
        )

    def _internships(self, s: Student) -> None:
        p = s.profile
        first_year = p in ("first_year_post", "assisted_first_year")
        start = date(s.cohort + 2, 9, 1) if not first_year else date(s.cohort, 11, 1)
        if p in ("rejected_then_cancelled", "rejected_superseded"):
            # Refused (no insurance), then a lawful placement that meets the hours.
            refused = self._internship(s, 1, date(s.cohort + 2, 7, 1), insured=False)
            if p == "rejected_then_cancelled":
                on = date(s.cohort + 2, 7, 10)
                data = {"internship_id": refused, "on": on.isoformat(), "reason": "录入错误"}
                self._add(s, "internship", "internship.cancelled", data, on)
            self._internship(s, 2, start)
            return
        self._internship(s, 1, start)

    def _internship(
        self,
        s: Student,
        n: int,
        start: date,
        *,
        insured: bool = True,
        weekly_hours: int = 40,
        running: bool = False,
    ) -> str:
        rng, p = self.rng, s.profile
        emp_id, emp_name, staff, venue = rng.choice(EMPLOYERS)
        kind = "cognitive" if p == "cognitive_only" else "post"
        mode = "assisted" if p == "assisted_first_year" else "independent"
        internship_id = f"INT-{s.student_id}-{n}"
        self._add(
            s,
            "internship",
            "internship.started",
            {
                "internship_id": internship_id,
                "kind": "跟岗" if p == "assisted_first_year" else kind,
                **({"mode": mode} if kind == "post" and p != "assisted_first_year" else {}),
                "employer_id": emp_id,
                "employer_name": emp_name,
                "post_title": "实习生",
                "start_on": start.isoformat(),
                "planned_end_on": (start + timedelta(days=180)).isoformat(),
                "agreement_signed": True,
                "guardian_consent": True,
                "insurance_policy_no": None
                if p == "no_insurance" or not insured
                else f"PICC-{rng.randint(10**7, 10**8)}",
                "daily_hours": min(8, weekly_hours // 4),
                "weekly_hours": weekly_hours,
                "night_shift": p == "night_shift",
                "overtime": False,
                "monthly_pay": 3200,
                "post_wage": 3800,
                "paid_directly": True,
                "pay_period_days": 30,
                "employer_staff": staff,
                "employer_post_staff": staff // 4,
                "fees_charged": False,
                "venue_type": venue,
                "via_intermediary": False,
                "intensity_level": 2,
                "prohibited_for_minors": False,
                "prohibited_for_women": False,
            },
            start,
        )
        if not insured or running:
            return internship_id
        end = start + timedelta(days=180)
        hours = 300 if p == "short_internship" else rng.choice([640, 720, 800])
        self._add(
            s,
            "internship",
            "internship.completed",
            {
                "internship_id": internship_id,
                "end_on": end.isoformat(),
                "hours": hours,
                "evaluation": "pass",
            },
            end,
        )
        return internship_id

    def _certificates(self, s: Student) -> None:
        rng, p = self.rng, s.profile
        grad = date(s.cohort + 3, 6, 20)
        if p in SIS_BELIEVES_ELIGIBLE:
            self._add(
                s,
                "certificates",
                "certificate.earned",
                {
                    "certificate_no": f"DIP-{s.student_id}",
                    "kind": "diploma",
                    "title": "中等职业学校毕业证书",
                    "issuer": s.school_id,
                    "issued_on": grad.isoformat(),
                },
                grad,
            )
        if p not in ("no_skill",):
            issued = date(s.cohort + 2, rng.choice([5, 11]), 15)
            data = {
                "certificate_no": f"SK-{s.student_id}",
                "kind": "skill",
                "title": "工业机器人操作与运维",
                "level": "junior",
                "issuer_type": "x_certificate" if issued.year < 2026 else "skill_level_recognition",
                "issuer": "某培训评价组织",
                "issued_on": issued.isoformat(),
            }
            if p == "skill_not_counted":  # an old qualification the policy does not count
                data["issuer_type"] = "vocational_qualification"
            self._add(s, "certificates", "certificate.earned", data, issued)
            if p == "skill_revoked":
                on = issued + timedelta(days=60)
                self._add(
                    s,
                    "certificates",
                    "certificate.revoked",
                    {
                        "certificate_no": data["certificate_no"],
                        "reason": "考核舞弊",
                        "on": on.isoformat(),
                    },
                    on,
                )
        if p != "no_quality":
            self._add(
                s,
                "certificates",
                "certificate.earned",
                {
                    "certificate_no": f"Q-{s.student_id}",
                    "kind": "quality",
                    "title": "德体美劳素质融合证书",
                    "issuer": s.school_id,
                    "issued_on": grad.isoformat(),
                },
                grad,
            )
