"""The dashboard's message catalogue is complete: every code the system can show has a
Chinese and an English message, and every requirement detail the graduation decision can
write is said in Chinese without English words."""

from __future__ import annotations

import re
from datetime import date
from itertools import product
from pathlib import Path
from typing import get_args

import pytest

from sanzheng_certificates import graduation as g
from sanzheng_certificates.academic import CourseFact
from sanzheng_certificates.deadlines import STATES
from sanzheng_gateway import messages
from sanzheng_gateway.projection import STATUS_BY_EVENT
from sanzheng_gateway.tokens import ROLES
from sanzheng_shared.events import catalogue
from sanzheng_shared.policy.loader import load_file
from sanzheng_shared.policy.waivers import REASON_CATEGORIES

ROOT = Path(__file__).resolve().parents[3]
POLICIES = sorted((ROOT / "shared/sanzheng_shared/policy/files").glob("*.yaml"))
RULE_CODE = re.compile(r"[\"'`]((?:ENR|INT|LAB|CERT|GRAD)_[A-Z0-9_]+)[\"'`]")
README_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)`(?: / `([A-Z][A-Z0-9_]+)`)?", re.MULTILINE)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _source_rule_codes() -> set[str]:
    found: set[str] = set()
    for path in [*ROOT.glob("services/*/sanzheng_*/**/*.py"), *ROOT.glob("shared/**/*.py")]:
        found |= set(RULE_CODE.findall(path.read_text(encoding="utf-8")))
    return found


def _readme_codes() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    codes = {c for row in README_ROW.findall(text) for c in row if c}
    return {c for c in codes if not c.startswith(("SANZHENG_", "OTEL_"))}


def _expected() -> list[tuple[str, str]]:
    wanted = [
        *(("evaluation", c) for c in get_args(catalogue.Evaluation)),
        *(("internship_kind", c) for c in get_args(catalogue.InternshipKind)),
        *(("internship_mode", c) for c in get_args(catalogue.InternshipMode)),
        *(("certificate_kind", c) for c in get_args(catalogue.CertificateKind)),
        *(("level", c) for c in get_args(catalogue.SkillLevel)),
        *(("issuer_type", c) for c in get_args(catalogue.IssuerType)),
        *(("event_type", c) for c in catalogue.DATA_MODELS),
        *(("status", c) for c in {"enrolled", *STATUS_BY_EVENT.values()}),
        *(("role", c) for c in ROLES),
        *(("reason_category", c) for c in REASON_CATEGORIES),
        *(("requirement_state", c) for c in STATES),
        *(("rule", c) for c in _source_rule_codes()),
        *(("requirement", r.code) for path in POLICIES for r in load_file(path).requirements),
        *(("internship_status", c) for c in ("active", "completed", "terminated", "cancelled")),
        *(("labor_kind", c) for c in ("completed", "exempted")),
    ]
    for code in _readme_codes():
        group = "requirement" if code in messages.REQUIREMENTS else "rule"
        wanted.append((group, code))
    return sorted(set(wanted))


def test_the_sources_of_codes_are_found() -> None:
    codes = {code for _, code in _expected()}
    assert {"INT_INSURANCE", "ENR_TRANSITION", "LAB_JUNE", "CERT_DUPLICATE_NO"} <= codes
    assert {"DATA_REQUIRED", "STUDENT_OTHER_SCHOOL", "SKILL_1X", "x_certificate"} <= codes
    assert POLICIES, "the policy files"


@pytest.mark.parametrize(("group", "code"), _expected())
def test_every_code_has_a_chinese_and_an_english_message(group: str, code: str) -> None:
    found = messages.GROUPS[group].get(code)
    assert found is not None, f"{group} {code} has no message in sanzheng_gateway/messages.py"
    assert CJK.search(found["zh"]), f"{code}: the zh message is not Chinese"
    assert found["en"].strip()
    assert messages.word(group, code, "zh") == found["zh"]
    assert messages.word(group, code, "en") == found["en"]


def _records() -> list[g.StudentRecord]:
    skill = [
        g.Certificate("SK-1", "skill", "junior", "x_certificate"),
        g.Certificate("SK-2", "skill", "senior", "skill_level_recognition"),
        g.Certificate("SK-3", "skill", "intermediate", "vocational_qualification"),
    ]
    certificates = [
        (),
        (g.Certificate("D-1", "diploma"), g.Certificate("Q-1", "quality"), *skill),
        (g.Certificate("SK-4", "skill", "junior", "x_certificate", revoked=True),),
    ]
    internships = [
        (),
        (g.InternshipFact("I-1", "post", "completed", 640, "pass"),),
        (g.InternshipFact("I-2", "post", "completed", 100, "pass"),),
        (g.InternshipFact("I-3", "cognitive", "active"),),
    ]
    rejected = [(), (("I-9", ("INT_INSURANCE", "INT_FEES")), ("I-8", ("INT_HOURS",)))]
    states = [(False, None), (True, "enrolled"), (True, "suspended"), (True, "withdrawn")]
    states.append((True, "graduated"))
    exemption = g.Waiver(
        "W-1", "LABOR_MONTH", "medical", "腿部骨折", "王校长", "principal",
        date(2025, 5, 1), date(2026, 5, 31),
    )  # fmt: skip
    # Decided on 2026-01-01 it counts; on 2026-06-30 it has expired and says so.
    labor = [(False, ()), (True, ()), (False, (exemption,))]
    programs = [
        (),
        (
            CourseFact("C-1", "public-basic", 1000, 200, 56, True),
            CourseFact("C-2", "professional", 1300, 800, 76, True),
            CourseFact("C-3", "practice", 700, 700, 40, True),
        ),
        (CourseFact("C-4", "professional", 2980, 1370, 150, True),),
    ]
    return [
        g.StudentRecord(
            enrolled=e,
            status=s,
            certificates=c,
            internships=i,
            labor_completed=lc,
            waivers=lx,
            rejected_internships=r,
            courses=p,
        )
        for (e, s), c, i, (lc, lx), r, p in product(
            states, certificates, internships, labor, rejected, programs
        )
    ]


def test_every_requirement_detail_is_said_in_chinese() -> None:
    details: set[str] = set()
    for path in POLICIES:
        policy = load_file(path)
        for record, day in product(_records(), (date(2026, 1, 1), date(2026, 6, 30))):
            details |= {r.detail for r in g.decide(record, policy, day).requirements}
    assert len(details) > 15
    assert any(d.startswith("waived by") for d in details)
    assert any("expired on 2026-05-31" in d for d in details)
    for text in details:
        assert messages.known_detail(text) is not None, f"no catalogue entry for {text!r}"
        zh = messages.detail(text, "zh")
        assert CJK.search(zh), text
        # No English word is left (ids such as SK-1 or I-9 and numbers stay).
        assert not re.search(r"[a-z]{2,}", zh), f"{text!r} -> {zh!r}"
        assert messages.detail(text, "en") == text


def test_an_unknown_detail_or_code_is_shown_as_written() -> None:
    assert messages.detail("something new", "zh") == "something new"
    assert messages.word("rule", "INT_NEW_RULE", "zh") == "INT_NEW_RULE"
    assert messages.waiting("internship.started INT-1", "zh") == "实习开始 INT-1"
    # A diploma held until the student is eligible says so, not "decision changed".
    assert messages.waiting("graduation.eligibility_changed", "zh").startswith("该生符合毕业条件")
    assert messages.waiting("graduation.eligibility_changed", "en") == (
        "the student becoming eligible to graduate"
    )
