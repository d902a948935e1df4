"""Upcasters: an old `dataversion` becomes the current shape at the edge.

Handlers then see one shape only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

CURRENT_VERSION = "1"


def _certificate_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    # Before 2026 every skill certificate was a 1+X "X" certificate and producers sent no
    # issuer_type; the v1 shape names the issuing regime explicitly.
    if data.get("kind") == "skill" and "issuer_type" not in data:
        return {**data, "issuer_type": "x_certificate"}
    return data


_UPCASTERS: dict[tuple[str, str], tuple[str, Upcaster]] = {
    ("certificate.earned", "0"): ("1", _certificate_v0_to_v1),
}


def upcast(event_type: str, version: str, data: dict[str, Any]) -> dict[str, Any]:
    while (event_type, version) in _UPCASTERS:
        version, step = _UPCASTERS[(event_type, version)]
        data = step(data)
    return data
