"""The envelope and the catalogue: what is dead-lettered, what is rejected, and why."""

from __future__ import annotations

import json
import re

import pytest

from sanzheng_shared.events import InvalidData, NotACloudEvent, parse_cloudevent, validate_data
from sanzheng_shared.events.catalogue import CertificateEarned, InternshipStarted
from sanzheng_shared.testing import cloudevent, enrolled


def _raw(doc: dict) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_raw({"specversion": "1.0", "source": "s", "type": "student.enrolled"}), "id"),
        (_raw({"id": "1", "source": "s", "type": "student.enrolled"}), "specversion"),
        (_raw({"specversion": "0.3", "id": "1", "source": "s", "type": "x"}), "specversion"),
    ],
)
def test_what_is_not_a_cloudevent(raw: bytes, reason: str) -> None:
    with pytest.raises(NotACloudEvent) as err:
        parse_cloudevent(raw)
    assert reason in err.value.reason


def test_an_unknown_type_is_not_a_cloudevent_we_know() -> None:
    raw = _raw(cloudevent("student.teleported", "S1", {}))
    with pytest.raises(NotACloudEvent, match=r"unknown type 'student\.teleported'"):
        parse_cloudevent(raw, frozenset({"student.enrolled"}))


def test_extension_attributes_and_correlation_are_kept() -> None:
    event = parse_cloudevent(_raw(enrolled("S1") | {"correlationid": "corr-9"}))
    assert event.schoolid == "SCH001"
    assert event.correlation_id == "corr-9"
    assert json.loads(event.to_json_bytes())["correlationid"] == "corr-9"


def test_missing_and_wrong_fields_are_rejected_with_the_field() -> None:
    doc = enrolled("S1")
    del doc["data"]["name"]
    doc["data"]["birth_date"] = "yesterday"
    with pytest.raises(InvalidData) as err:
        validate_data(parse_cloudevent(_raw(doc)))
    by_field = {r.field: r for r in err.value.reasons}
    assert by_field["name"].code == "DATA_REQUIRED"
    assert by_field["birth_date"].code == "DATA_INVALID"
    assert "yesterday" in by_field["birth_date"].message


def test_unknown_data_fields_are_ignored() -> None:
    doc = enrolled("S1")
    doc["data"]["favourite_colour"] = "blue"
    data = validate_data(parse_cloudevent(_raw(doc)))
    assert not hasattr(data, "favourite_colour")


EMPLOYER = "91110105MA01234565"  # a checksum-valid 统一社会信用代码 (region 110105)


def _internship(**fields: object) -> dict:
    return {
        "internship_id": "I1",
        "employer_id": EMPLOYER,
        "employer_name": "厂",
        "post_title": "操作工",
        "start_on": "2026-03-01",
        "planned_end_on": "2026-08-31",
        **fields,
    }


@pytest.mark.parametrize(
    ("legacy", "kind", "mode"),
    [
        ("顶岗", "post", "independent"),
        ("跟岗实习", "post", "assisted"),
        ("follow", "post", "assisted"),
        ("认知", "cognitive", None),
        ("POST", "post", None),
    ],
)
def test_legacy_internship_kinds_are_mapped(legacy: str, kind: str, mode: str | None) -> None:
    doc = cloudevent("internship.started", "S1", _internship(kind=legacy)) | {"dataversion": "2"}
    model = validate_data(parse_cloudevent(_raw(doc)))
    assert isinstance(model, InternshipStarted) and (model.kind, model.mode) == (kind, mode)


@pytest.mark.parametrize(
    ("v1", "expected"),
    [
        ({"kind": "follow"}, ("post", "assisted", None)),
        ({"kind": "跟岗"}, ("post", "assisted", None)),
        ({"kind": "post"}, ("post", "independent", None)),  # v1 `post` was the old 顶岗
        ({"kind": "post", "hazardous_work": True}, ("post", "independent", 3)),
        ({"kind": "cognitive", "hazardous_work": False}, ("cognitive", None, None)),
    ],
)
def test_a_v1_internship_is_upcast_to_kind_and_mode(v1: dict, expected: tuple) -> None:
    doc = cloudevent("internship.started", "S1", _internship(**v1)) | {"dataversion": "1"}
    model = validate_data(parse_cloudevent(_raw(doc)))
    assert isinstance(model, InternshipStarted)
    assert (model.kind, model.mode, model.intensity_level) == expected


def test_an_employer_id_must_be_a_uscc() -> None:
    doc = cloudevent("internship.started", "S1", _internship(kind="cognitive", employer_id="E1"))
    with pytest.raises(InvalidData) as caught:
        validate_data(parse_cloudevent(_raw(doc)))
    assert [(r.code, r.field) for r in caught.value.reasons] == [("DATA_INVALID", "employer_id")]


def test_a_v0_skill_certificate_is_upcast_to_an_x_certificate() -> None:
    data = {
        "certificate_no": "X-1",
        "kind": "skill",
        "title": "工业机器人操作与运维",
        "level": "junior",
        "issuer": "某培训评价组织",
        "issued_on": "2025-06-30",
    }
    old = cloudevent("certificate.earned", "S1", data) | {"dataversion": "0"}
    model = validate_data(parse_cloudevent(_raw(old)))
    assert isinstance(model, CertificateEarned) and model.issuer_type == "x_certificate"

    current = cloudevent("certificate.earned", "S1", data)  # v1 must say which regime issued it
    with pytest.raises(InvalidData, match="issuer_type"):
        validate_data(parse_cloudevent(_raw(current)))


@pytest.mark.parametrize("attribute", ["id", "source", "type", "subject", "schoolid"])
@pytest.mark.parametrize("bad", ["\u0000", "\u0007", "\n", "\u007f", "\u0085", "\ud800"])
def test_control_characters_in_envelope_attributes_are_not_a_cloudevent(
    attribute: str, bad: str
) -> None:
    # PostgreSQL refuses NUL in text: such an id once failed the inbox insert and took the
    # whole batch down with it. It must be refused here, before any statement.
    doc = enrolled("S1")
    doc[attribute] = f"A{bad}B"
    with pytest.raises(NotACloudEvent, match=f"attribute '{attribute}' holds a control"):
        parse_cloudevent(json.dumps(doc).encode(), frozenset({"student.enrolled", "A\x00B"}))


def test_control_characters_in_an_extension_attribute_are_not_a_cloudevent() -> None:
    doc = enrolled("S1") | {"correlationid": "corr\u00001"}
    with pytest.raises(NotACloudEvent, match="correlationid"):
        parse_cloudevent(json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(name="张\u0000三"), "name"),
        (lambda d: d.update(major_name="\ud83d"), "major_name"),
        (lambda d: d.update(extra={"k": ["ok", "bad\u0000"]}), "extra.k.1"),
        (lambda d: d.update({"bad\u0000key": 1}), "data"),
    ],
)
def test_text_postgresql_cannot_store_in_data_is_rejected_with_the_field(change, field) -> None:
    doc = enrolled("S1")
    change(doc["data"])
    event = parse_cloudevent(json.dumps(doc).encode())
    with pytest.raises(InvalidData) as err:
        validate_data(event)
    [reason] = err.value.reasons
    assert (reason.code, reason.field) == ("DATA_INVALID", field)
    assert "\u0000" not in reason.message


def test_tabs_and_newlines_inside_data_are_kept() -> None:
    doc = enrolled("S1")
    doc["data"]["name"] = "张三\t(转学)\n李四"
    assert validate_data(parse_cloudevent(json.dumps(doc).encode())).name == "张三\t(转学)\n李四"


@pytest.mark.parametrize(
    "raw",
    [
        # what the fast path (one model_validate_json) takes: the same event as json.loads
        b'{"specversion":"1.0","id":"a","id":"b","source":"s","type":"t",'
        b'"data":{"x":1,"x":2,"n":123456789012345678901234567890,"f":1.5e300,"u":"\\u4e2d\\/"},'
        b'"time":"2026-06-01T08:00:00+08:00","ext":{"a":1,"a":3},"z":1,"y":2,"z":3}',
        b'{"specversion":"1.0","id":"a","source":"s","type":"t","time":1700000000,"data":NaN}',
        b'{"specversion":"1.0","id":"a","source":"s","type":"t","data":1e999}  \n',
        # what it refuses, then the usual path takes (or refuses, saying why)
        b'{"specversion":"1.0","id":"a","source":"s","type":"t","data":"\xed\xa0\x80"}',
        b'{"specversion":"1.0","id":"a","source":"s","type":"t"} x',
        b'{"specversion":"1.0","id":"a\xff","source":"s","type":"t"}',
        b"\xef\xbb\xbf" + b'{"specversion":"1.0","id":"a","source":"s","type":"t"}',
        b'{"specversion":"1.0","id":"","source":"s","type":"t"}',
        b'{"specversion":1.0,"id":"a","source":"s","type":"t"}',
        b'"text"',
    ],
)
def test_the_fast_parse_reads_what_json_loads_reads(raw: bytes) -> None:
    from sanzheng_shared.events import envelope

    def slow(raw: bytes) -> object:
        """The path every message took before: json.loads, then the dict validated."""
        pattern = envelope._ESCAPED_CONTROL
        try:
            envelope._ESCAPED_CONTROL = re.compile(rb".|\n")  # always "escaped": slow path
            return parse_cloudevent(raw)
        except NotACloudEvent as exc:
            return ("refused", exc.reason, exc.attribute)
        finally:
            envelope._ESCAPED_CONTROL = pattern

    try:
        fast: object = parse_cloudevent(raw)
    except NotACloudEvent as exc:
        fast = ("refused", exc.reason, exc.attribute)
    expected = slow(raw)
    assert repr(fast) == repr(expected)
    if not isinstance(fast, tuple):
        assert repr(fast.model_dump()) == repr(expected.model_dump())  # type: ignore[attr-defined]
        assert fast._storable == expected._storable  # type: ignore[attr-defined]


def test_derived_ids_are_uuid5() -> None:
    import random
    import uuid

    from sanzheng_shared.consumer.context import _NAMESPACE, content_id, derived_id

    rng = random.Random(8)
    alphabet = "abcXYZ019-/_ 中文\x1f"
    for _ in range(2000):
        parts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in "1234"]
        name = "\x1f".join(parts)
        assert derived_id(*parts) == str(uuid.uuid5(_NAMESPACE, name))
        assert content_id(*parts) == str(uuid.uuid5(_NAMESPACE, name))
