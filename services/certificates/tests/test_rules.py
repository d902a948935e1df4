"""Certificate numbers: one number, one student."""

from __future__ import annotations

from sanzheng_certificates.rules import number_conflict, revocation_conflict


def test_a_new_number_or_the_same_students_number_is_no_conflict() -> None:
    assert number_conflict("SK-1", None, "S1") is None
    assert number_conflict("SK-1", "S1", "S1") is None  # the same certificate, sent again


def test_another_students_number_is_refused_with_the_field() -> None:
    reason = number_conflict("SK-1", "S2", "S1")
    assert reason is not None
    assert (reason.code, reason.field) == ("CERT_DUPLICATE_NO", "certificate_no")
    assert "S2" not in reason.message, "the other student is not named to this school"


def test_a_revocation_for_another_students_certificate_is_refused() -> None:
    assert revocation_conflict("SK-1", None, "S1") is None  # may come before the certificate
    reason = revocation_conflict("SK-1", "S2", "S1")
    assert reason is not None and reason.field == "certificate_no"
