"""`sanzheng status` without a student shows the embedded parts `sanzheng up` watches:
when the broker was last restarted (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sanzheng.main import app


def test_status_without_a_student_tells_when_the_broker_last_restarted(
    tmp_path: Path, monkeypatch
) -> None:
    from sanzheng_shared.settings import get_settings

    (tmp_path / "parts.json").write_text(
        json.dumps(
            {
                "kafka": {
                    "address": "127.0.0.1:41237",
                    "restarts": 2,
                    "last_restart": "2026-11-29T14:03:00+00:00",
                },
                "postgres": {"address": "postgresql://postgres@/x", "restarts": 0},
            }
        )
    )
    monkeypatch.setenv("SANZHENG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["status"], env={"COLUMNS": "200"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "127.0.0.1:41237" in result.output and "2026-11-29T14:03:00" in result.output
    assert "never" in result.output  # the database was never restarted


def test_status_without_parts_says_where_it_looked(tmp_path: Path, monkeypatch) -> None:
    from sanzheng_shared.settings import get_settings

    monkeypatch.setenv("SANZHENG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "parts.json" in result.output
