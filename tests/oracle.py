"""An independent oracle: which requirements a student misses, computed from the raw
submissions with the default policy's numbers, without the product's code.

It knows only the rules the synthetic generator exercises; it is deliberately written
differently (straight from SPEC §2) so that a bug in the product is not copied here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

COUNTED_ISSUERS = {"x_certificate", "skill_level_recognition"}
MIN_HOURS = 480


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _age(birth: date, on: date) -> int:
    years = on.year - birth.year
    return years - 1 if (on.month, on.day) < (birth.month, birth.day) else years


def _year_of_study(cohort: int, on: date) -> int:
    # School years start on 1 September; year 1 is the year of entry.
    start_year = on.year if on.month >= 9 else on.year - 1
    return start_year - cohort + 1


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
    if not any(c["kind"] == "diploma" for c in certs):
        missing.add("DIPLOMA")
    if not any(c["kind"] == "quality" for c in certs):
        missing.add("QUALITY")
    if not any(c["kind"] == "skill" and c.get("issuer_type") in COUNTED_ISSUERS for c in certs):
        missing.add("SKILL_1X")

    labor_ok = bool(by_type.get("labor_education.exempted"))
    for m in by_type.get("labor_education.completed", []):
        start, end = _d(m["period_start"]), _d(m["period_end"])
        if (
            student
            and start.month == 6
            and m["evaluation"] == "pass"
            and (end - start).days + 1 >= 28
            and _year_of_study(student["cohort"], start) == 2
        ):
            labor_ok = True
    if not labor_ok:
        missing.add("LABOR_MONTH")

    accepted: set[str] = set()
    refused = False
    for s in by_type.get("internship.started", []):
        ok = True
        if student:
            birth, start = _d(student["birth_date"]), _d(s["start_on"])
            if not s.get("insurance_policy_no") or s.get("night_shift"):
                ok = False
            if s["kind"] == "post" and (
                _age(birth, start) < 16 or _year_of_study(student["cohort"], start) < 2
            ):
                ok = False
        if ok:
            accepted.add(s["internship_id"])
        else:
            refused = True
    hours = sum(
        c["hours"]
        for c in by_type.get("internship.completed", [])
        if c["internship_id"] in accepted
        and c["evaluation"] == "pass"
        and any(
            s["internship_id"] == c["internship_id"] and s["kind"] == "post"
            for s in by_type.get("internship.started", [])
        )
    )
    if refused or hours < MIN_HOURS:
        missing.add("INTERNSHIP")
    return missing
