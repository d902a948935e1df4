"""The waiver rule (SPEC §2.5), pure: a waiver the policy allows makes an unmet requirement
met while it is in force; expired, revoked or not allowed, it does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sanzheng_certificates.graduation import StudentRecord, decide
from sanzheng_certificates.waivers import Waiver
from sanzheng_shared.policy import PolicyBook

BOOK = PolicyBook.load()
POLICY = BOOK.for_student("SCH001", 2023, date(2026, 6, 30))
NOTHING = StudentRecord(enrolled=True, status="enrolled")
LABOR = Waiver(
    "W-1", "LABOR_MONTH", "medical", "腿部骨折", "王校长", "principal",
    date(2025, 5, 10), date(2025, 12, 31),
)  # fmt: skip


def labor(record: StudentRecord, on: date) -> tuple[bool, str]:
    found = {r.code: r for r in decide(record, POLICY, on).requirements}["LABOR_MONTH"]
    return found.met, found.detail


def test_a_waiver_in_force_meets_the_requirement_and_names_approver_reason_and_expiry() -> None:
    met, detail = labor(replace(NOTHING, waivers=(LABOR,)), date(2025, 6, 1))
    assert met
    assert detail == "waived by 王校长 (principal), reason medical: 腿部骨折, until 2025-12-31"


def test_a_waiver_counts_from_its_grant_until_its_expiry_day_included() -> None:
    record = replace(NOTHING, waivers=(LABOR,))
    assert not labor(record, date(2025, 5, 9))[0]
    assert labor(record, date(2025, 5, 10))[0]
    assert labor(record, date(2025, 12, 31))[0]
    met, detail = labor(record, date(2026, 1, 1))
    assert not met
    assert detail.startswith("June labor-education month (2nd school year) not recorded")
    assert detail.endswith("; waiver by 王校长 expired on 2025-12-31")


def test_a_revoked_waiver_stops_counting_at_once() -> None:
    record = replace(NOTHING, waivers=(replace(LABOR, revoked_on=date(2025, 6, 1)),))
    met, detail = labor(record, date(2025, 6, 2))
    assert not met and "waived" not in detail


def test_a_role_or_reason_the_policy_does_not_allow_never_counts() -> None:
    # The default policy lets only the bureau waive the internship, and not for `transfer`.
    internship = replace(LABOR, requirement="INTERNSHIP", reason_category="medical")
    by_principal = replace(NOTHING, waivers=(internship,))
    decision = decide(by_principal, POLICY, date(2025, 6, 1))
    assert not {r.code: r.met for r in decision.requirements}["INTERNSHIP"]
    by_bureau = replace(NOTHING, waivers=(replace(internship, approver_role="bureau"),))
    decision = decide(by_bureau, POLICY, date(2025, 6, 1))
    assert {r.code: r.met for r in decision.requirements}["INTERNSHIP"]
    wrong_reason = replace(LABOR, reason_category="transfer")
    assert not labor(replace(NOTHING, waivers=(wrong_reason,)), date(2025, 6, 1))[0]
    # ENROLLED is not waivable at all.
    enrolled = replace(LABOR, requirement="ENROLLED", approver_role="bureau")
    withdrawn = StudentRecord(enrolled=True, status="withdrawn", waivers=(enrolled,))
    assert "ENROLLED" in decide(withdrawn, POLICY, date(2025, 6, 1)).missing


def test_a_met_requirement_keeps_the_facts_detail_and_a_waiver_decides_nothing_else() -> None:
    done = replace(NOTHING, labor_completed=True, waivers=(LABOR,))
    assert labor(done, date(2025, 6, 1)) == (True, "June labor-education month completed")
    decision = decide(replace(NOTHING, waivers=(LABOR,)), POLICY, date(2025, 6, 1))
    assert set(decision.missing) == {"ACADEMIC", "SKILL_1X", "QUALITY", "INTERNSHIP"}
