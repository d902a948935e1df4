"""A rule that spans fields still names the field at fault (SPEC §3.3): before, such an
event was refused as DATA_INVALID on no field, with the message "`None`: Value error, …"."""

from __future__ import annotations

from typing import Any

import pytest

from sanzheng_shared.events.envelope import CloudEvent, InvalidData, validate_data

ENVELOPE = {
    "specversion": "1.0",
    "source": "sis/SCH001",
    "id": "e-1",
    "subject": "S1",
    "time": "2026-01-01T00:00:00Z",
}
SKILL = {
    "certificate_no": "X-1",
    "kind": "skill",
    "title": "工业机器人应用编程",
    "issued_on": "2026-01-01",
    "issuer": "某评价组织",
}
POST = {
    "internship_id": "I-1",
    "kind": "post",
    "mode": "independent",
    "employer_id": "91110000600037341L",
    "employer_name": "某公司",
    "post_title": "装配",
    "start_on": "2026-03-01",
    "planned_end_on": "2026-02-01",
    "agreement_signed": True,
}
WAIVER = {
    "waiver_id": "w-1",
    "requirement": "LABOR_MONTH",
    "reason_category": "medical",
    "reason": "骨折",
    "approver": {"name": "王校长", "role": "principal"},
    "granted_on": "2026-05-01",
    "expires_on": "2026-04-01",
}
COURSE = {
    "course_code": "C-1",
    "course_name": "机械制图",
    "category": "professional",
    "credits": 2,
    "class_hours": 32,
    "practice_hours": 0,
    "term": "2025-1",
}


def _reasons(type_: str, data: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    event = CloudEvent.model_validate(ENVELOPE | {"type": type_, "data": data})
    with pytest.raises(InvalidData) as refused:
        validate_data(event)
    return [(r.code, r.field, r.message) for r in refused.value.reasons]


@pytest.mark.parametrize(
    ("type_", "data", "code", "field"),
    [
        ("certificate.earned", SKILL | {"issuer_type": "x_certificate"}, "DATA_REQUIRED", "level"),
        ("certificate.earned", SKILL | {"level": "junior"}, "DATA_REQUIRED", "issuer_type"),
        ("internship.started", POST, "DATA_INVALID", "planned_end_on"),
        ("requirement.waived", WAIVER, "DATA_INVALID", "expires_on"),
        ("course.completed", COURSE, "DATA_REQUIRED", "score"),
    ],
)
def test_a_rule_across_fields_names_its_field(
    type_: str, data: dict[str, Any], code: str, field: str
) -> None:
    [(got_code, got_field, message)] = _reasons(type_, data)
    assert (got_code, got_field) == (code, field)
    assert "Value error" not in message and "None" not in message
    assert f"`{field}`" in message


ENROLLED = {
    "name": "张三",
    "birth_date": "2008-05-01",
    "major_code": "660701",
    "major_name": "工业机器人技术应用",
    "class_id": "C1",
    "cohort": 2024,
    "enrolled_on": "2024-09-01",
}


@pytest.mark.parametrize(
    ("type_", "data", "field"),
    [
        ("student.enrolled", ENROLLED | {"cohort": "2024"}, "cohort"),
        (
            "internship.started",
            POST | {"planned_end_on": "2026-06-01", "agreement_signed": "yes"},
            "agreement_signed",
        ),
        (
            "internship.started",
            POST | {"planned_end_on": "2026-06-01", "night_shift": 1},
            "night_shift",
        ),
        ("course.completed", COURSE | {"score": "75"}, "score"),
    ],
)
def test_types_are_strict(type_: str, data: dict[str, Any], field: str) -> None:
    """SPEC §8 "strict types": before, "yes" was read as true and "2024" as 2024."""
    [(code, got, _)] = _reasons(type_, data)
    assert (code, got) == ("DATA_INVALID", field)


def test_dates_are_still_read_from_iso_text_and_whole_numbers_as_decimals() -> None:
    event = CloudEvent.model_validate(
        ENVELOPE | {"type": "course.completed", "data": COURSE | {"score": 75}}
    )
    data = validate_data(event)
    assert data.score == 75.0 and data.passed is True  # type: ignore[attr-defined]
    enrolled = CloudEvent.model_validate(ENVELOPE | {"type": "student.enrolled", "data": ENROLLED})
    assert str(validate_data(enrolled).birth_date) == "2008-05-01"  # type: ignore[attr-defined]
