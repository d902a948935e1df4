"""Policy files: the shipped default, overrides per school and cohort, malformed files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sanzheng_shared.policy import PolicyBook, PolicyError
from sanzheng_shared.policy.loader import DEFAULT_DIR

OVERRIDE = (
    (DEFAULT_DIR / "default.yaml")
    .read_text()
    .replace('version: "default-2026.2"', 'version: "SCH002-2024.1"')
    .replace('schools: ["*"]', 'schools: ["SCH002"]')
    .replace("min_hours: 480", "min_hours: 600")
)


def test_the_default_policy_applies_everywhere() -> None:
    policy = PolicyBook.load().for_student("SCH009", 2023, date(2026, 6, 30))
    assert policy.version == "default-2026.2"
    assert policy.severity("INT_QUOTA") == "flag"
    assert policy.severity("INT_HOURS_RECORDED") == "flag"
    assert policy.labor_education.min_working_days == 20
    assert policy.labor_education.makeup_in_summer is True


def test_the_default_is_in_force_from_the_2024_plan_and_legacy_before() -> None:
    book = PolicyBook.load()
    assert book.for_student("SCH009", 2022, date(2025, 6, 30)).version == "default-2026.2"
    assert book.for_student("SCH009", 2021, date(2024, 8, 31)).version == "legacy-2019.1"
    # An older cohort graduating before the plan: enrolled with a diploma, nothing more.
    legacy = book.for_student("SCH009", 2018, date(2021, 6, 30))
    assert [r.code for r in legacy.requirements] == ["ENROLLED", "DIPLOMA"]
    assert legacy.severity("INT_MIN_AGE") == "reject"  # the regulation is law either way


@pytest.mark.parametrize(
    ("employer", "day", "monthly"),
    [
        ("91110105MA01234565", date(2023, 8, 31), 2320),
        ("91110105MA01234565", date(2023, 9, 1), 2420),
        ("91110105MA01234565", date(2025, 9, 1), 2540),
        ("91310000MA01234565", date(2025, 9, 1), None),  # Shanghai: no figure shipped
    ],
)
def test_the_local_minimum_wage_is_effective_dated_per_region(employer, day, monthly) -> None:
    policy = PolicyBook.load().for_student("SCH009", 2023, date(2026, 6, 30))
    wage = policy.minimum_wage(employer, day)
    assert (wage.monthly if wage else None) == monthly


def test_a_school_override_wins_while_in_force(tmp_path: Path) -> None:
    (tmp_path / "sch002.yaml").write_text(OVERRIDE)
    book = PolicyBook.load(tmp_path)
    assert book.for_student("SCH002", 2023, date(2026, 6, 30)).version == "SCH002-2024.1"
    requirement = book.for_student("SCH002", 2023, date(2026, 6, 30)).requirement("INTERNSHIP")
    assert requirement is not None and requirement.min_hours == 600
    assert book.for_student("SCH002", 2020, date(2023, 6, 30)).version == "legacy-2019.1"
    assert book.for_student("SCH001", 2023, date(2026, 6, 30)).version == "default-2026.2"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("version: [", "cannot read it as YAML"),
        (OVERRIDE.replace("INT_FEES: reject", "INT_FEES: maybe"), "internship_rules.INT_FEES"),
        (OVERRIDE.replace("  INT_HAZARD: reject\n", ""), "INT_HAZARD"),
        (OVERRIDE.replace("code: QUALITY", "code: QUALITY_X"), "requirements.3.code"),
        (OVERRIDE.replace("makeup_in_summer: true", "makeup_in_summer: true\n  bonus: 1"), "bonus"),
    ],
)
def test_a_malformed_policy_file_is_refused_saying_where(tmp_path, text, problem) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(PolicyError) as err:
        PolicyBook.load(tmp_path)
    assert "bad.yaml" in str(err.value) and problem in str(err.value)


def test_a_service_refuses_to_start_on_a_malformed_policy(tmp_path: Path) -> None:
    from sanzheng_shared.service import load_policies
    from sanzheng_shared.settings import Settings

    (tmp_path / "bad.yaml").write_text(OVERRIDE.replace("INT_FEES: reject", "INT_FEES: maybe"))
    with pytest.raises(SystemExit) as stop:
        load_policies(Settings(policy_dir=tmp_path))
    assert str(stop.value).startswith("cannot start: policy file")
    assert "bad.yaml" in str(stop.value) and "INT_FEES" in str(stop.value)
