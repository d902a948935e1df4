"""A key shared between students is read from an event's data before the event is
validated: it must be the value the data model will hold, or it locks nothing."""

from __future__ import annotations

import pytest

from sanzheng_shared.events.catalogue import CertificateEarned, data_text


@pytest.mark.parametrize(
    "number", [" N-1 ", "N-1\x1f", "\u3000N-1\u3000", "\tN-1\n", "N 1", "证书-1 "]
)
def test_data_text_is_what_the_model_holds(number: str) -> None:
    certificate = CertificateEarned(
        certificate_no=number, kind="quality", title="t", issuer="s", issued_on="2026-06-01"
    )
    assert data_text(number) == certificate.certificate_no


@pytest.mark.parametrize("value", [None, 7, "", "   ", "N\x001", "N-1\ud800"])
def test_data_text_of_no_text_is_none(value: object) -> None:
    assert data_text(value) is None
