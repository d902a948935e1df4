"""as_of reads the day each fact happened, not the day its event arrived (issue 13)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sanzheng_gateway import asof
from sanzheng_shared.policy import PolicyBook

ARRIVED = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def row(type_: str, **data: object) -> dict[str, object]:
    return {"type": type_, "time": ARRIVED, "data": data}


def test_each_fact_counts_from_its_own_date() -> None:
    rows = [
        row("student.enrolled", enrolled_on="2024-09-01"),
        row("certificate.earned", issued_on="2026-06-20"),
        row("internship.completed", end_on="2026-02-28"),
        row("labor_education.completed", period_start="2025-06-02", period_end="2025-06-30"),
        row("requirement.waived", granted_on="2026-03-10", expires_on="2027-01-01"),
        row("requirement.waiver_revoked", on="2026-04-01"),
        row("student.at_risk"),  # no date of its own: when it arrived
    ]
    types = [r["type"] for r in asof.occurred_by(rows, date(2026, 3, 31))]
    assert types == [
        "student.enrolled",
        "internship.completed",
        "labor_education.completed",
        "requirement.waived",
    ]
    assert len(asof.occurred_by(rows, date(2026, 11, 1))) == len(rows)
    assert asof.occurred_by(rows, date(2024, 8, 31)) == []


def test_only_policies_already_in_force_apply_and_differs_compares_what_is_met() -> None:
    book = PolicyBook.load()
    assert [p.version for p in asof.policies_then(book, date(2020, 1, 1)).policies] == [
        "legacy-2019.1"
    ]
    assert len(asof.policies_then(book, date(2025, 1, 1)).policies) == 2
    a = {"eligible": False, "requirements": [{"code": "QUALITY", "met": False, "detail": "x"}]}
    b = {"eligible": False, "requirements": [{"code": "QUALITY", "met": False, "detail": "y"}]}
    c = {"eligible": False, "requirements": [{"code": "QUALITY", "met": True, "detail": "y"}]}
    assert not asof.differs(a, b)
    assert asof.differs(a, c) and asof.differs(a, None)
