"""Checks on identifiers that reach SQL or the access log. PostgreSQL refuses a NUL byte in
text, so a NUL in a student id used to fail the query itself (a 500) *and* the access-log
row about it; such an id is now refused before any query, and logged in escaped form."""

from __future__ import annotations

import re
import uuid

# A student id is the CloudEvent `subject` (at most 100 characters); no control characters.
_STUDENT_ID = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A client's X-Request-ID is kept only when it cannot smuggle anything into a log line.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def is_student_id(value: str) -> bool:
    return _STUDENT_ID.fullmatch(value) is not None


def is_school_id(value: str) -> bool:
    return len(value) <= 50 and is_student_id(value)


def has_control(value: str) -> bool:
    return _CONTROL.search(value) is not None


def escaped(value: str, limit: int = 100) -> str:
    """A printable stand-in for a refused value, for the access log (`\\x00` for NUL)."""
    return value[:limit].encode("unicode_escape").decode("ascii")[: limit * 4]


def request_id(supplied: str | None) -> str:
    """The client's X-Request-ID when it is a UUID or at most 64 safe characters, else new."""
    if supplied:
        try:
            return str(uuid.UUID(supplied))
        except ValueError:
            if _SAFE_REQUEST_ID.fullmatch(supplied):
                return supplied
    return uuid.uuid4().hex


def like_pattern(text: str) -> str:
    """`text` with LIKE's wildcards escaped: a search for `%` finds a `%`, not everyone."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
