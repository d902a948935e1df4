"""An independent oracle: which requirements a student misses, computed from the raw
submissions with the default policy's numbers, without the product's code.

It is written straight from the texts (the seed's 2024 plan and the 2021 《职业学校学生实习
管理规定》, as SPEC §2 states them), deliberately differently from the services, so that a
bug in the product is not copied here. It knows the rules the synthetic generator exercises.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

COUNTED_ISSUERS = {"x_certificate", "skill_level_recognition"}
MIN_HOURS = 480  # INTERNSHIP: hours of completed post internships
LABOR_MIN_WORKING_DAYS = 20
# 2021 regulation Art. 2: 认识实习 and 岗位实习; 跟岗 and 顶岗 are both 岗位实习 now.
POST_WORDS = {"post", "follow", "岗位", "岗位实习", "跟岗", "跟岗实习", "顶岗", "顶岗实习"}


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _age(birth: date, on: date) -> int:
    years = on.year - birth.year
    return years - 1 if (on.month, on.day) < (birth.month, birth.day) else years


def _year_of_study(cohort: int, on: date) -> int:
    # School years start on 1 September; year 1 is the year of entry.
    start_year = on.year if on.month >= 9 else on.year - 1
    return start_year - cohort + 1


def _weekdays(first: date, last: date) -> int:
    return sum(
        1 for n in range((last - first).days + 1) if (first + timedelta(days=n)).isoweekday() <= 5
    )


def _is_post(s: dict[str, Any]) -> bool:
    return str(s["kind"]).strip().lower() in POST_WORDS


def _labor_ok(months: list[dict[str, Any]], cohort: int | None) -> bool:
    """A passed June of the 2nd year of at least 20 weekdays; after a failed June, a passed
    make-up in that July-August."""
    failed_years = set()
    passed = False
    for m in sorted(months, key=lambda m: m["period_start"]):
        start, end = _d(m["period_start"]), _d(m["period_end"])
        if cohort is None or _year_of_study(cohort, start) != 2:
            continue
        in_june = start.month == 6 and end.month == 6 and start.year == end.year
        makeup = start.year in failed_years and start.month in (7, 8) and end.month in (7, 8)
        if not (in_june or makeup) or _weekdays(start, end) < LABOR_MIN_WORKING_DAYS:
            continue
        if m["evaluation"] == "pass":
            passed = True
        else:
            failed_years.add(start.year)
    return passed


# ACADEMIC (学业合格), the default policy's numbers: the program's credits, each category's,
# and practice teaching MORE than half of the class hours (seed 三(三)2: 实践性教学课时占总
# 课时一半以上; SPEC §2.5 "more than half").
PROGRAM_CREDITS = 170
CATEGORY_CREDITS = {"public-basic": 50, "professional": 60, "practice": 30}
# The default policy's example conversion table (学分银行: a skill certificate exempts a
# course and gives credit): title -> (lowest level, issuer type or None for any, category,
# credits).
CONVERSIONS = {
    "工业机器人操作与运维": ("junior", None, "professional", 4),
    "Web前端开发": ("intermediate", "x_certificate", "professional", 6),
}
LEVELS = ["junior", "intermediate", "senior"]


def _course_ok(c: dict[str, Any]) -> bool:
    """A course the credits service accepts: practice within the class hours, 16-18 class
    hours a credit give or take half a credit."""
    hours = c["class_hours"]
    return c["practice_hours"] <= hours and hours / 18 - 0.5 <= c["credits"] <= hours / 16 + 0.5


def _passed(c: dict[str, Any]) -> bool:
    return c["passed"] if c.get("passed") is not None else (c.get("score") or 0) >= 60


def _academic_ok(by_type: dict[str, list[dict[str, Any]]], revoked_certs: set[str]) -> bool:
    # A course taken more than once counts once: its best attempt (a pass over a fail, then
    # the higher score; between equals the first).
    best: dict[str, dict[str, Any]] = {}
    for c in filter(_course_ok, by_type.get("course.completed", [])):
        rank = (_passed(c), c.get("score") or -1)
        kept = best.get(c["course_code"])
        if kept is None or rank > (_passed(kept), kept.get("score") or -1):
            best[c["course_code"]] = c
    credits = dict.fromkeys(CATEGORY_CREDITS, 0.0)
    hours = practice = 0.0
    for c in best.values():
        hours += c["class_hours"]
        practice += c["practice_hours"]
        if _passed(c):
            credits[c["category"]] += c["credits"]
    # Recognized credit: converted skill certificates and the school's own recognitions,
    # unless revoked.
    for cert in by_type.get("certificate.earned", []):
        row = CONVERSIONS.get(cert["title"]) if cert["kind"] == "skill" else None
        if row is None or cert["certificate_no"] in revoked_certs:
            continue
        lowest, issuer, category, amount = row
        if LEVELS.index(cert["level"]) >= LEVELS.index(lowest) and issuer in (
            None,
            cert.get("issuer_type"),
        ):
            credits[category] += amount
    withdrawn_credit = {r["recognition_id"] for r in by_type.get("credit.revoked", [])}
    for r in by_type.get("credit.recognized", []):
        if r["recognition_id"] not in withdrawn_credit:
            credits[r.get("category", "professional")] += r["credits"]
    return (
        sum(credits.values()) >= PROGRAM_CREDITS
        and all(credits[k] >= least for k, least in CATEGORY_CREDITS.items())
        and hours > 0
        and practice * 2 > hours
    )


def expected_diploma(events: list[dict[str, Any]]) -> str | None:
    """What becomes of a diploma the school sent: accepted for an eligible student, refused
    (GRAD_NOT_ELIGIBLE) for a withdrawn one, otherwise held until the student is eligible."""
    if not any(
        e["type"] == "certificate.earned" and e["data"]["kind"] == "diploma" for e in events
    ):
        return None
    if not expected_missing(events):
        return "accepted"
    if any(e["type"] == "student.withdrawn" for e in events):
        return "rejected"
    return "held"


def _waiver_counts(exemption: dict[str, Any]) -> bool:
    """A labor-month exemption is a waiver (SPEC §2.3, §2.5): the default policy lets a
    principal or the bureau grant it for a medical, disability or other reason, and it
    counts until its expiry day. The services decide on the broker's clock, so today."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return (
        exemption.get("approver_role") in {"principal", "bureau"}
        and exemption.get("reason_category") in {"medical", "disability", "other"}
        and bool(exemption.get("expires_on"))
        and _d(exemption["on"]) <= today <= _d(exemption["expires_on"])
    )


def expected_missing(events: list[dict[str, Any]]) -> set[str]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e["data"])
    missing: set[str] = set()

    enrolled = by_type.get("student.enrolled", [])
    if not enrolled or by_type.get("student.withdrawn"):
        missing.add("ENROLLED")
    student = enrolled[0] if enrolled else None

    revoked = {c["certificate_no"] for c in by_type.get("certificate.revoked", [])}
    certs = [c for c in by_type.get("certificate.earned", []) if c["certificate_no"] not in revoked]
    # The plan's policy asks for the academic program, not a diploma (the diploma is what
    # graduation confers).
    if not _academic_ok(by_type, revoked):
        missing.add("ACADEMIC")
    if not any(c["kind"] == "quality" for c in certs):
        missing.add("QUALITY")
    if not any(c["kind"] == "skill" and c.get("issuer_type") in COUNTED_ISSUERS for c in certs):
        missing.add("SKILL_1X")

    cohort = student["cohort"] if student else None
    exempted = [x for x in by_type.get("labor_education.exempted", []) if _waiver_counts(x)]
    exempted += [
        w
        for w in by_type.get("requirement.waived", [])
        if w["requirement"] == "LABOR_MONTH"
        and _waiver_counts(w | {"approver_role": w["approver"]["role"], "on": w["granted_on"]})
    ]
    if not exempted and not _labor_ok(by_type.get("labor_education.completed", []), cohort):
        missing.add("LABOR_MONTH")

    withdrawn = {c["internship_id"] for c in by_type.get("internship.cancelled", [])}
    accepted: set[str] = set()
    for s in by_type.get("internship.started", []):
        ok = bool(s.get("insurance_policy_no")) and not s.get("night_shift")
        if student and _is_post(s):
            birth, start = _d(student["birth_date"]), _d(s["start_on"])
            if _age(birth, start) < 16 or _year_of_study(student["cohort"], start) < 2:
                ok = False
        if ok:
            accepted.add(s["internship_id"])
    posts = {s["internship_id"] for s in by_type.get("internship.started", []) if _is_post(s)}
    hours = sum(
        c["hours"]
        for c in by_type.get("internship.completed", [])
        if c["internship_id"] in accepted & posts - withdrawn and c["evaluation"] == "pass"
    )
    # A refused post submission keeps INTERNSHIP open only until corrected, withdrawn or
    # outweighed by accepted hours: whatever it did, too few hours leave it unmet.
    if hours < MIN_HOURS:
        missing.add("INTERNSHIP")
    return missing
