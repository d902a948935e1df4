"""Enrollment rules and the protection of national ID numbers."""

from __future__ import annotations

from datetime import date

import pytest

from sanzheng_enrollment.privacy import NationalIdVault, mask
from sanzheng_enrollment.rules import check_national_id, next_status
from sanzheng_shared.events.envelope import Reason

VALID = "110105200805011233"  # checksum-valid, born 2008-05-01


def test_a_valid_national_id_matching_the_birth_date_is_accepted() -> None:
    assert check_national_id(VALID, date(2008, 5, 1)) == (VALID, [])


def test_a_wrong_checksum_is_refused_without_echoing_the_number() -> None:
    compact, [reason] = check_national_id(VALID[:-1] + "1", date(2008, 5, 1))
    assert compact is None
    assert (reason.code, reason.field) == ("ENR_NATIONAL_ID", "national_id")
    assert VALID[:-1] not in reason.message


def test_a_birth_date_that_differs_from_the_id_is_refused_without_the_number() -> None:
    """Not even masked: the message holds a birth date, and the last four beside a birth
    date are most of the number (SPEC §8)."""
    _, [reason] = check_national_id(VALID, date(2008, 5, 2))
    assert (reason.code, reason.field) == ("ENR_NATIONAL_ID", "birth_date")
    assert VALID[-4:] not in reason.message and VALID[:6] not in reason.message


@pytest.mark.parametrize(
    ("current", "event", "expected"),
    [
        ("enrolled", "student.suspended", "suspended"),
        ("suspended", "student.resumed", "enrolled"),
        ("enrolled", "student.withdrawn", "withdrawn"),
        ("suspended", "student.withdrawn", "withdrawn"),
    ],
)
def test_lifecycle_transitions(current: str, event: str, expected: str) -> None:
    assert next_status(current, event) == expected


@pytest.mark.parametrize(
    ("current", "event"),
    [
        ("enrolled", "student.resumed"),
        ("withdrawn", "student.suspended"),
        ("withdrawn", "student.withdrawn"),
        ("suspended", "student.suspended"),
    ],
)
def test_impossible_transitions_are_refused(current: str, event: str) -> None:
    result = next_status(current, event)
    assert isinstance(result, Reason) and result.code == "ENR_TRANSITION"


def test_the_vault_encrypts_hashes_and_masks() -> None:
    vault = NationalIdVault("key-1", None)
    protected = vault.protect(VALID)
    assert VALID.encode() not in protected.ciphertext
    assert vault.reveal(protected.ciphertext) == VALID
    assert protected.masked == mask(VALID) == "**************1233"
    assert protected.fingerprint == vault.fingerprint(VALID)
    assert protected.fingerprint != NationalIdVault("key-2", None).fingerprint(VALID)


def test_a_national_id_enrolled_as_another_student_is_refused_masked() -> None:
    from sanzheng_enrollment.rules import duplicate_id

    assert duplicate_id("110105********1233", None, "S1") is None
    assert duplicate_id("110105********1233", "S1", "S1") is None  # a correction of S1
    reason = duplicate_id("110105********1233", "S2", "S1")
    assert reason is not None
    assert (reason.code, reason.field) == ("ENR_DUPLICATE_ID", "national_id")
    assert "110105********1233" in reason.message
    assert "S2" not in reason.message and "another school" in reason.message
    same = duplicate_id("110105********1233", "S2", "S1", same_school=True)
    assert same is not None and "S2" in same.message


def test_validation_agrees_with_python_stdnum_on_valid_and_invalid_numbers() -> None:
    """The vault checks a number as `stdnum.cn.ric.validate` does (its region lookup cached):
    the same numbers pass, and a refused one gets the same reason."""
    import random

    from stdnum.cn import ric
    from stdnum.exceptions import ValidationError

    rng = random.Random(7)
    regions = ["110101", "310104", "440305", "110100", "110229", "999999", "000000"]
    years = ["2008", "1980", "1950", "1900", "0000"]
    numbers = ["", "123", "1101052008050112", VALID.lower(), VALID[:6] + " " + VALID[6:]]
    for _ in range(3000):
        body = (
            rng.choice(regions)
            + rng.choice(years)
            + f"{rng.randint(0, 13):02d}{rng.randint(0, 31):02d}{rng.randint(0, 999):03d}"
        )
        check = ric.calc_check_digit(body + "0") if rng.random() < 0.8 else rng.choice("1X")
        numbers.append(body + check if rng.random() < 0.95 else (body + check).replace("1", "a"))
    outcomes = {"valid": 0, "refused": 0}
    for number in numbers:
        try:
            expected = ("valid", ric.validate(number))
        except ValidationError as exc:
            expected = ("refused", str(exc) or "invalid national id")
        try:
            got = ("valid", NationalIdVault.validate(number))
        except ValueError as exc:
            got = ("refused", str(exc))
        assert got == expected, number
        outcomes[got[0]] += 1
    assert min(outcomes.values()) > 500  # both kinds were really compared
