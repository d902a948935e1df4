"""The gateway's pure pieces: ingest checks, token shape and school scoping, status folding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sanzheng_gateway.ingest import IngestError, check
from sanzheng_gateway.queries import status_from
from sanzheng_gateway.tokens import Principal, digest, new_token
from sanzheng_shared.testing import cloudevent, enrolled
from tests.sdk import http_message

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


def test_a_token_id_shares_nothing_with_the_secret() -> None:
    token, token_id = new_token("sis")
    secret = token.removeprefix("szk_s_")
    assert not any(secret[i : i + 6] in token_id for i in range(len(secret) - 5))


def test_token_lifetimes() -> None:
    from datetime import UTC, datetime, timedelta

    from sanzheng_gateway.tokens import DEFAULT_LIFETIME, TokenError, expiry

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert expiry(None, now) == now + DEFAULT_LIFETIME == now + timedelta(days=90)
    assert expiry("30d", now) == now + timedelta(days=30)
    assert expiry("12h", now) == now + timedelta(hours=12)
    assert expiry("2026-07-01", now) == datetime(2026, 7, 1, tzinfo=UTC)
    for bad in ("2025-01-01", "forever", "-3d"):
        with pytest.raises(TokenError):
            expiry(bad, now)


def test_failures_are_throttled_per_address_until_they_age_out() -> None:
    from sanzheng_gateway.throttle import FailureThrottle

    now = [1000.0]
    throttle = FailureThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") is None
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 60
    assert throttle.retry_after("10.0.0.2") is None
    now[0] += 45
    assert throttle.retry_after("10.0.0.1") == 15
    now[0] += 15
    assert throttle.retry_after("10.0.0.1") is None


def test_the_throttle_forgets_the_stalest_address_when_full() -> None:
    from sanzheng_gateway.throttle import FailureThrottle

    throttle = FailureThrottle(limit=1, max_addresses=2)
    for address in ("a", "b", "c"):
        throttle.failed(address)
    assert throttle.retry_after("a") is None and throttle.retry_after("c") is not None


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b'[{"a": [1, {"b": "]]]]"}]}]', 4),  # brackets inside strings do not count
        (b'{"a": "\\"["}', 1),  # nor after an escaped quote
        (b"[" * 5000 + b"]" * 5000, 5000),
    ],
)
def test_json_depth_is_measured_without_parsing(body: bytes, depth: int) -> None:
    from sanzheng_gateway.bounded import json_depth

    assert json_depth(body) == depth


def test_a_deep_or_non_standard_body_is_refused_before_parsing() -> None:
    for body in (b"[" * 5000 + b"]" * 5000, b"1" * 5000, b'{"a": NaN}'):
        with pytest.raises(IngestError) as err:
            check(body, CE, "SCH001")
        assert err.value.status == 400


def test_every_event_is_serialised_before_anything_is_sent() -> None:
    body = json.dumps([enrolled("S1"), enrolled("S2")]).encode()
    ready = check(body, "application/cloudevents-batch+json", "SCH001")
    assert [json.loads(r.payload)["subject"] for r in ready] == ["S1", "S2"]


@pytest.mark.parametrize(
    ("supplied", "kept"),
    [
        ("0B1C6F8E-4F4E-4C47-9A1B-2A3C0F1D2B7E", "0b1c6f8e-4f4e-4c47-9a1b-2a3c0f1d2b7e"),
        ("job-17:retry.2", "job-17:retry.2"),
        ("x" * 64, "x" * 64),
        ("x" * 65, None),
        ("a\nb", None),
        ("", None),
    ],
)
def test_request_ids(supplied: str, kept: str | None) -> None:
    from sanzheng_gateway.inputs import request_id

    got = request_id(supplied)
    assert got == kept if kept else (got != supplied and len(got) == 32)


def test_the_shown_enrollment_has_age_and_grade_not_the_birth_date() -> None:
    from datetime import date

    from sanzheng_gateway.queries import shown_enrollment

    record = {"student_id": "S1", "cohort": 2024, "birth_date": date(2008, 9, 30)}
    shown = shown_enrollment(record, on=date(2025, 9, 29))
    assert shown == {"student_id": "S1", "cohort": 2024, "age": 16, "grade_year": 2}


# --- binary content mode over HTTP, as the official CloudEvents SDK sends it ------------


def test_binary_and_structured_requests_are_the_same_event() -> None:
    sent = enrolled("S1") | {"time": "2024-09-01T08:00:00+08:00"}
    ready = {}
    for mode in ("structured", "binary"):
        headers, body = http_message(sent, mode)
        (ready[mode],) = check(body, headers["content-type"], "SCH001", headers.items())
    assert ready["binary"].domain == "enrollment"
    assert ready["binary"].event == ready["structured"].event
    assert json.loads(ready["binary"].payload) == json.loads(ready["structured"].payload)


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"ce-schoolid": "SCH002"}, 422, "SCHOOL_MISMATCH", "ce-schoolid"),
        ({"ce-source": "sis/SCH002"}, 422, "SOURCE_MISMATCH", "ce-source"),
        ({"ce-subject": None}, 422, "DATA_REQUIRED", "ce-subject"),
        ({"ce-id": None}, 422, "NOT_A_CLOUDEVENT", "ce-id"),
        ({"ce-type": "student.promoted"}, 422, "NOT_A_CLOUDEVENT", "ce-type"),
        ({"ce-specversion": "0.3"}, 422, "NOT_A_CLOUDEVENT", "ce-specversion"),
        ({"ce-bad_name": "x"}, 422, "NOT_A_CLOUDEVENT", "ce-bad_name"),
        ({"content-type": "text/plain"}, 415, None, None),
    ],
)
def test_binary_requests_are_refused_as_structured_ones_naming_the_header(
    change: dict[str, str | None], status: int, code: str | None, field: str | None
) -> None:
    headers, body = http_message(enrolled("S1"), "binary")
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(IngestError) as err:
        check(body, headers["content-type"], "SCH001", headers.items())
    assert err.value.status == status
    if code:
        assert (err.value.reasons[0]["code"], err.value.reasons[0].get("field")) == (code, field)


def test_a_binary_request_with_bad_data_is_refused_with_the_data_field() -> None:
    event = enrolled("S1")
    del event["data"]["name"]
    headers, body = http_message(event, "binary")
    with pytest.raises(IngestError) as err:
        check(body, headers["content-type"], "SCH001", headers.items())
    assert {(r["code"], r.get("field")) for r in err.value.reasons} == {("DATA_REQUIRED", "name")}
    with pytest.raises(IngestError) as err:
        check(b"{not json", "application/json", "SCH001", headers.items())
    assert err.value.status == 400


def test_percent_encoded_header_values_are_decoded() -> None:
    headers, body = http_message(enrolled("S1"), "binary")
    headers["ce-source"] = "sis%2FSCH001"
    (ready,) = check(body, headers["content-type"], "SCH001", headers.items())
    assert ready.event.source == "sis/SCH001"


def test_the_learning_account_does_not_depend_on_the_timeline_order() -> None:
    from sanzheng_gateway.queries import learning_account

    def item(event_id: str, type_: str, **data: Any) -> dict[str, Any]:
        return {"id": event_id, "type": type_, "time": None, "data": data}

    course = {"course_code": "C1", "category": "practice", "class_hours": 36, "credits": 2}
    items = [
        item("a", "course.completed", **course, practice_hours=10, passed=False, counted=True),
        item("b", "course.completed", **course, practice_hours=36, passed=True, replaces="a"),
        item(
            "r",
            "credit.recognized",
            recognition_id="R",
            kind="transfer",
            category="practice",
            credits=1,
            evidence={"kind": "transcript", "reference": "T"},
        ),
        item("x", "credit.revoked", recognition_id="R", revokes="r", on="2026-01-01"),
    ]
    forward, backward = learning_account(items), learning_account(items[::-1])
    for account in (forward, backward):
        assert account["credits_by_category"]["practice"] == 2
        assert account["credits_by_source"] == {
            "course": 2,
            "transfer": 0,
            "certificate": 0,
            "prior_learning": 0,
        }
        assert account["practice_share"] == 1.0
