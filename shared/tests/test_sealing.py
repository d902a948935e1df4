"""National ids in the copies of events a service keeps are sealed (SPEC §8), and only what
the service itself sealed is ever opened."""

from __future__ import annotations

import json

import pytest

from sanzheng_shared.events.sealing import Sealer, SealError

NUMBER = "110105200805011233"
EVENT = {"specversion": "1.0", "id": "e1", "type": "student.enrolled", "data": {"name": "张三"}}


def _value(data: dict) -> bytes:
    return json.dumps(EVENT | {"data": data}, ensure_ascii=False).encode()


def test_a_sealed_value_holds_no_number_and_opens_to_the_event() -> None:
    sealer = Sealer("key", None)
    data = {"name": "张三", "national_id": NUMBER}
    sealed = sealer.seal(_value(data), data)
    assert NUMBER.encode() not in sealed
    assert json.loads(sealer.unseal(sealed))["data"] == data


def test_what_a_school_sent_in_the_sealed_shape_is_never_opened() -> None:
    sealer = Sealer("key", None)
    data = {"national_id": NUMBER}
    ours = sealer.seal(_value(data), data)
    token = json.loads(ours[ours.index(b"{") :])["data"]["national_id"]
    look_alike = _value({"national_id": token})  # the token a school could forge
    assert sealer.unseal(look_alike) == look_alike


def test_a_value_sealed_with_another_key_stops_the_reader() -> None:
    data = {"national_id": NUMBER}
    sealed = Sealer("key-1", None).seal(_value(data), data)
    with pytest.raises(SealError, match="SANZHENG_ID_ENCRYPTION_KEY"):
        Sealer("key-2", None).unseal(sealed)


def test_a_lone_surrogate_elsewhere_does_not_fail_the_seal() -> None:
    raw = b'{"id":"e1","data":{"name":"a\\ud800b","national_id":"110105200805011233"}}'
    data = json.loads(raw)["data"]
    sealed = Sealer("key", None).seal(raw, data)
    assert json.loads(Sealer("key", None).unseal(sealed))["data"]["name"] == "a\ud800b"


def test_events_without_a_number_are_kept_as_they_came() -> None:
    value = _value({"name": "张三"})
    assert Sealer("key", None).seal(value, {"name": "张三"}) == value
