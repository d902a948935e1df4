"""The AsyncAPI documents under docs/asyncapi are generated from the code: a change to a
service's topics or the event catalogue must come with regenerated documents
(`uv run sanzheng asyncapi`)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from sanzheng.main import all_specs
from sanzheng_shared.asyncapi import write_all

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


def test_the_committed_asyncapi_documents_match_the_code(tmp_path: Path) -> None:
    fresh = write_all(all_specs(), tmp_path, version("sanzheng"))
    stale = [
        p.name
        for p in fresh
        if not (COMMITTED / p.name).is_file() or (COMMITTED / p.name).read_text() != p.read_text()
    ]
    assert not stale, f"docs/asyncapi is stale for {stale}: run `uv run sanzheng asyncapi`"
    assert {p.name for p in COMMITTED.iterdir()} == {p.name for p in fresh}


def test_the_documents_name_every_inbound_topic() -> None:
    text = (COMMITTED / "certificates.yaml").read_text()
    for topic in (
        "sis.certificates",
        "enrollment.events",
        "internship.events",
        "labor-education.events",
        "sis.rejections",
        "graduation.events",
    ):
        assert f"address: {topic}" in text
