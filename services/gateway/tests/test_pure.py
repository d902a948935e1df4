"""The gateway's pure pieces: ingest checks, token shape and school scoping, status folding."""

from __future__ import annotations

import json

import pytest

from sanzheng_gateway.ingest import IngestError, check
from sanzheng_gateway.queries import status_from
from sanzheng_gateway.tokens import Principal, digest, new_token
from sanzheng_shared.testing import cloudevent, enrolled

CE = "application/cloudevents+json"


def test_a_batch_routes_each_event_to_its_domain() -> None:
    body = json.dumps(
        [
            enrolled("S1"),
            cloudevent("certificate.revoked", "S1", {"certificate_no": "X", "on": "2026-01-01"}),
        ]
    ).encode()
    routed = check(body, "application/cloudevents-batch+json", "SCH001")
    assert [ready.domain for ready in routed] == ["enrollment", "certificates"]


@pytest.mark.parametrize(
    ("body", "media", "status", "code"),
    [
        (b"[]", CE, 400, None),
        (
            json.dumps(enrolled("S1") | {"type": "student.promoted"}).encode(),
            CE,
            422,
            "NOT_A_CLOUDEVENT",
        ),
        (
            json.dumps({k: v for k, v in enrolled("S1").items() if k != "subject"}).encode(),
            CE,
            422,
            "DATA_REQUIRED",
        ),
        (json.dumps(enrolled("S1") | {"schoolid": "SCH002"}).encode(), CE, 422, "SCHOOL_MISMATCH"),
        (b"<xml/>", "application/xml", 415, None),
    ],
)
def test_bad_submissions_say_why(body: bytes, media: str, status: int, code: str | None) -> None:
    with pytest.raises(IngestError) as err:
        check(body, media, "SCH001")
    assert err.value.status == status
    if code:
        assert err.value.reasons[0]["code"] == code


def test_tokens_are_prefixed_random_and_hashed() -> None:
    token, token_id = new_token("counselor")
    assert token.startswith("szk_c_") and token_id.startswith("szk_c_id_")
    assert new_token("counselor")[0] != token
    assert digest(token) != token and len(digest(token)) == 64


def test_school_scoping() -> None:
    counselor = Principal("t1", "counselor", "SCH001")
    assert counselor.may_see("SCH001") and not counselor.may_see("SCH002")
    assert not counselor.may_see(None)
    assert Principal("t2", "bureau", None).may_see("SCH002")


def test_status_folds_internships_and_revocations() -> None:
    items = [
        {
            "type": "internship.started",
            "data": {"internship_id": "I1", "kind": "post", "flags": [{"code": "INT_QUOTA"}]},
        },
        {
            "type": "internship.completed",
            "data": {"internship_id": "I1", "hours": 600, "kind": "post"},
        },
        {"type": "certificate.earned", "data": {"certificate_no": "C1", "kind": "skill"}},
        {"type": "certificate.revoked", "data": {"certificate_no": "C1", "on": "2026-01-01"}},
    ]
    folded = status_from(items)
    [internship] = folded["internships"]
    assert internship["status"] == "completed" and internship["flags"][0]["code"] == "INT_QUOTA"
    assert folded["certificates"][0]["revoked"] is True
