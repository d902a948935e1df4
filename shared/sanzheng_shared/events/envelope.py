"""CloudEvents 1.0 in structured JSON mode, and the two ways an inbound message can be bad.

A message that is not a CloudEvent at all (not JSON, no `id`, unknown `type`) is *not a
CloudEvent* and is dead-lettered; a CloudEvent whose `data` breaks the catalogue is a
*submission* with reasons and is rejected on `sis.rejections` (SPEC §3.3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from sanzheng_shared.events.catalogue import EventData, data_model_for
from sanzheng_shared.events.text import UNSTORABLE as _UNSTORABLE
from sanzheng_shared.events.upcast import upcast

CONTENT_TYPE = "application/cloudevents+json"
MAX_EVENT_BYTES = 256 * 1024

# Control characters (C0, DEL, C1) and lone surrogates: PostgreSQL refuses NUL in text and
# jsonb, and a surrogate cannot be encoded as UTF-8, so neither may reach a statement.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Inside `data`, text may hold tabs and newlines (a remark); only what cannot be stored is
# refused (`_UNSTORABLE`).
# In JSON text those can only arrive escaped (raw ones are invalid JSON or UTF-8): when no
# such escape is in the message, the walk over every value of `data` is not needed.
_ESCAPED_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
# Any escape that can stand for a control character or a surrogate: without one, neither
# the attributes nor `data` need a closer look (the usual message: one regex, no walk).
# JSON lets DEL and the C1 controls stand unescaped: those raw bytes count too.
_ESCAPED_CONTROL = re.compile(
    rb"\\(?:[bfnrt]|u00[0-9a-fA-F]{2}|u[dD][89a-fA-F])|\x7f|\xc2[\x80-\x9f]"
)


class CloudEvent(BaseModel):
    """The envelope. Extension attributes (e.g. `correlationid`) are kept as extra fields."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=500)
    type: str = Field(min_length=1, max_length=200)
    time: datetime | None = None
    subject: str | None = Field(default=None, max_length=100)
    datacontenttype: str | None = "application/json"
    schoolid: str | None = Field(default=None, max_length=50)
    dataversion: str = "1"
    data: Any = None
    _storable: bool = PrivateAttr(default=False)
    """Set when parsing showed that no text in the event can be refused by PostgreSQL."""

    @property
    def correlation_id(self) -> str:
        extra = self.model_extra or {}
        return str(extra.get("correlationid") or self.id)

    def to_json_bytes(self) -> bytes:
        # model_dump_json(exclude_none=True).encode(), without the round trip through str
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


@dataclass(frozen=True)
class Reason:
    """One reason a submission is rejected: a rule code, a message a person can act on, a field."""

    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


class NotACloudEvent(Exception):
    """The message is not a CloudEvent we know: it goes unchanged to `<topic>.dlq`."""

    def __init__(self, reason: str, attribute: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attribute = attribute
        """the envelope attribute at fault, when there is one"""


class InvalidData(Exception):
    """A CloudEvent whose `data` does not match its type's shape: a rejected submission."""

    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons


def parse_cloudevent(raw: bytes | str, known_types: frozenset[str] | None = None) -> CloudEvent:
    if len(raw) > MAX_EVENT_BYTES:
        raise NotACloudEvent(f"message of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    if isinstance(raw, bytes) and _ESCAPED_CONTROL.search(raw) is None:
        # The usual message: no escape that could hide a control character or a surrogate,
        # so nothing to walk. One pass in Rust instead of `json.loads` and then a validation
        # of the dict; it yields the same event (jiter keeps the last of repeated keys, as
        # `json.loads` does). Anything it refuses (invalid JSON, UTF-8 or envelope) takes
        # the path below, which says why as it always did.
        try:
            event = CloudEvent.model_validate_json(raw)
        except ValueError:
            pass
        else:
            if known_types is not None and event.type not in known_types:
                raise NotACloudEvent(f"unknown type {event.type!r}", "type")
            event._storable = True
            return event
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotACloudEvent(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise NotACloudEvent("not a JSON object")
    encoded = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    plain = isinstance(raw, bytes) and _ESCAPED_CONTROL.search(encoded) is None
    for name, value in () if plain else doc.items():
        if name == "data":
            continue
        text = isinstance(value, str) and _CONTROL.search(value)
        if _CONTROL.search(name) or text or _unstorable_field(value) is not None:
            raise NotACloudEvent(
                f"not a CloudEvent 1.0: attribute {name!r} holds a control character",
                None if _CONTROL.search(name) else name,
            )
    try:
        event = CloudEvent.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        attribute = str(first["loc"][0]) if first["loc"] else None
        raise NotACloudEvent(f"not a CloudEvent 1.0: {where}: {first['msg']}", attribute) from None
    if known_types is not None and event.type not in known_types:
        raise NotACloudEvent(f"unknown type {event.type!r}", "type")
    event._storable = plain or (
        _ESCAPED_UNSTORABLE.search(encoded) is None
        and not (isinstance(raw, str) and _UNSTORABLE.search(raw))
    )
    return event


def _unstorable_field(value: Any, path: str = "") -> str | None:
    """The path of the first key or text in `value` that PostgreSQL cannot store, if any."""
    if isinstance(value, str):
        return (path or "data") if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _UNSTORABLE.search(str(key)):
                return path or "data"  # the object holding the key: the key is not echoed
            here = f"{path}.{key}" if path else str(key)
            if (found := _unstorable_field(item, here)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable_field(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def validate_data(event: CloudEvent) -> EventData:
    """Upcast old `dataversion`s, then validate `data` against the catalogue."""
    model = data_model_for(event.type)
    if model is None:
        raise NotACloudEvent(f"unknown type {event.type!r}")
    if not isinstance(event.data, dict):
        raise InvalidData([Reason("DATA_REQUIRED", "`data` must be a JSON object", "data")])
    if not event._storable and (where := _unstorable_field(event.data)) is not None:
        message = f"`{where}` holds a NUL character or invalid Unicode"
        raise InvalidData([Reason("DATA_INVALID", message, where)])
    data = upcast(event.type, event.dataversion, event.data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidData([_reason_from(err) for err in exc.errors()]) from None


# Values never echoed back in a rejection (they would reach a topic in clear text).
SENSITIVE_FIELDS = frozenset({"national_id"})


def _reason_from(err: Any) -> Reason:
    field = ".".join(str(p) for p in err["loc"]) or None
    if (at := (err.get("ctx") or {}).get("field")) is not None:  # catalogue.fault
        field = ".".join([field, at]) if field else at
        code = "DATA_REQUIRED" if err["type"] == "data_required" else "DATA_INVALID"
        return Reason(code, err["msg"], field)
    if err["type"] == "missing":
        return Reason("DATA_REQUIRED", f"required field `{field}` is missing", field)
    if field in SENSITIVE_FIELDS:
        return Reason("DATA_INVALID", f"`{field}`: {err['msg']}", field)
    value = err.get("input")
    shown = json.dumps(value, ensure_ascii=False, default=str)[:80] if value is not None else ""
    return Reason("DATA_INVALID", f"`{field}`: {err['msg']} (got {shown})", field)
