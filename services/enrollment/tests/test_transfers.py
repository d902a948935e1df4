"""Who must agree to a change of school (SPEC §2.1), as a pure rule."""

from __future__ import annotations

from datetime import date

from sanzheng_enrollment.transfers import Outcome, agree, party
from sanzheng_shared.events.catalogue import StudentTransferred
from sanzheng_shared.events.envelope import Reason

T = StudentTransferred(
    transfer_id="T1", to_school_id="SCH002", to_class_id="C-B-1", on=date(2026, 3, 1)
)


def test_between_schools_it_takes_both_schools_or_the_bureau() -> None:
    first = agree("SCH001", T, "SCH001", None)
    assert first == Outcome(("SCH001",), done=False)
    earlier = {"to_school_id": "SCH002", "to_class_id": "C-B-1", "agreed_by": ["SCH001"]}
    assert agree("SCH001", T, "SCH002", earlier) == Outcome(("SCH001", "SCH002"), done=True)
    assert agree("SCH001", T, "bureau/QD", None) == Outcome(("bureau/QD",), done=True)


def test_within_one_school_the_schools_word_is_enough() -> None:
    inside = T.model_copy(update={"to_school_id": "SCH001"})
    assert agree("SCH001", inside, "SCH001", None).done  # type: ignore[union-attr]


def test_a_third_school_is_nobody_and_a_changed_destination_is_refused() -> None:
    assert party("sis/SCH003", "SCH003", "SCH001", "SCH002") is None
    assert party("sis/SCH002", "SCH002", "SCH001", "SCH002") == "SCH002"
    assert party("bureau/QD", None, "SCH001", "SCH002") == "bureau/QD"
    earlier = {"to_school_id": "SCH009", "to_class_id": "C-B-1", "agreed_by": ["SCH001"]}
    refused = agree("SCH001", T, "SCH002", earlier)
    assert isinstance(refused, Reason)
    assert (refused.code, refused.field) == ("ENR_TRANSFER", "to_school_id")
