"""Upcasters: an old `dataversion` becomes the current shape at the edge.

Handlers then see one shape only. Each type has its own current version (most are "1").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanzheng_shared.events.catalogue import legacy_kind

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

CURRENT_VERSION = "1"
CURRENT_VERSIONS = {"internship.started": "2"}


def current_version(event_type: str) -> str:
    return CURRENT_VERSIONS.get(event_type, CURRENT_VERSION)


def _certificate_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    # Before 2026 every skill certificate was a 1+X "X" certificate and producers sent no
    # issuer_type; the v1 shape names the issuing regime explicitly.
    if data.get("kind") == "skill" and "issuer_type" not in data:
        return {**data, "issuer_type": "x_certificate"}
    return data


def _internship_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 spoke the 2016 regulation: `follow` (跟岗) and `post` (顶岗) were two kinds, and
    one `hazardous_work` boolean stood for Art. 16(3)/(7). The 2021 regulation has one
    `post` kind done `assisted` (跟岗) or `independent` (顶岗), and three work-ban fields."""
    out = legacy_kind(data)
    if out.get("kind") == "post" and not out.get("mode"):
        out = {**out, "mode": "independent"}  # a v1 `post` was the old 顶岗实习
    hazardous = out.pop("hazardous_work", None) if "hazardous_work" in out else None
    if hazardous is True and out.get("intensity_level") is None:
        # v1 described it as "intensity level III or above, or high-risk work".
        out["intensity_level"] = 3
    return out


_UPCASTERS: dict[tuple[str, str], tuple[str, Upcaster]] = {
    ("certificate.earned", "0"): ("1", _certificate_v0_to_v1),
    ("internship.started", "1"): ("2", _internship_v1_to_v2),
}


def upcast(event_type: str, version: str, data: dict[str, Any]) -> dict[str, Any]:
    while (event_type, version) in _UPCASTERS:
        version, step = _UPCASTERS[(event_type, version)]
        data = step(data)
    return data
