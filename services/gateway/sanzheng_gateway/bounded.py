"""Bounds on untrusted JSON, checked before it is parsed: Python's parser recurses once per
nesting level, so a body nested a few thousand deep would raise RecursionError (a 500)
instead of a refusal. The scan is linear and never recurses."""

from __future__ import annotations

import re

# A CloudEvent is shallow: batch > event > data > a list of flags > a flag. Twice that is
# room for extension attributes without letting a body nest without bound.
MAX_JSON_DEPTH = 16

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (strings skipped); malformed
    input still gives a number, and the parser then says what is wrong with it."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest
