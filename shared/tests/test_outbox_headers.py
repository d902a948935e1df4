"""Outbox headers as stored in jsonb: any Kafka header survives, and older rows still read."""

from __future__ import annotations

import base64
import json

from sanzheng_shared.outbox import _decode_headers, _encode_headers


def test_null_binary_and_nul_headers_round_trip_through_json_jsonb_accepts() -> None:
    headers = [("null", None), ("nul\x00key", b"v"), ("empty", b""), ("bin", b"\xff\x00")]
    stored = _encode_headers(headers)
    assert "\\u0000" not in stored, "jsonb refuses a NUL in text"
    assert _decode_headers(json.loads(stored)) == headers


def test_rows_written_in_the_former_shape_are_still_read() -> None:
    former = json.dumps([["content-type", base64.b64encode(b"application/json").decode()]])
    assert _decode_headers(former) == [("content-type", b"application/json")]
