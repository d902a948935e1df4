"""`--stages`: a subset, in run order; a service alone brings the services it reads from."""

from __future__ import annotations

import pytest

from sanzheng.bench.run import STAGES, parse_stages


def test_all_is_every_stage_in_order() -> None:
    assert parse_stages("all") == list(STAGES)


def test_a_subset_keeps_the_run_order() -> None:
    assert parse_stages("latency, raw") == ["raw", "latency"]


def test_a_service_alone_brings_the_services_before_it() -> None:
    assert parse_stages("labor-education") == ["enrollment", "internship", "labor-education"]
    assert parse_stages("services,e2e") == [
        "enrollment",
        "internship",
        "labor-education",
        "certificates",
        "e2e",
    ]


@pytest.mark.parametrize("text", ["", "warp", "raw,warp"])
def test_an_unknown_or_empty_choice_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_stages(text)
