"""What-if over HTTP (issue 13): the decision with hypothetical events or another policy
version, changing nothing, access-logged, scoped to the token's school."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

SKILL = {
    "type": "certificate.earned",
    "data": {
        "certificate_no": "X-WHATIF-1",
        "kind": "skill",
        "title": "Web 前端开发 1+X",
        "level": "intermediate",
        "issuer_type": "x_certificate",
        "issuer": "某评价组织",
        "issued_on": "2026-05-10",
    },
}


async def test_what_if_answers_the_decision_and_its_changes_and_changes_nothing(
    gateway, students
) -> None:
    sid = students["SCH001"]
    async with httpx.AsyncClient(
        base_url=gateway.url, headers=gateway.headers("counselor-1")
    ) as client:
        before = (await client.get(f"/v1/students/{sid}/graduation")).json()
        answer = await client.post(
            f"/v1/students/{sid}/graduation/what-if", json={"events": [SKILL]}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["eligible"] is True and body["eligible_before"] is False
        assert [c["code"] for c in body["changes"]] == ["SKILL_1X"]
        assert set(body) >= {"eligible", "requirements", "policy_version", "decided_at"}
        legacy = (
            await client.post(
                f"/v1/students/{sid}/graduation/what-if",
                json={"policy_version": "legacy-2019.1"},
            )
        ).json()
        # Before the plan a diploma was the requirement: this student has none yet.
        assert legacy["policy_version"] == "legacy-2019.1" and legacy["eligible"] is False
        assert [r["code"] for r in legacy["requirements"] if not r["met"]] == ["DIPLOMA"]
        diploma = {
            "type": "certificate.earned",
            "data": {"certificate_no": "DIP-WHATIF", "kind": "diploma", "title": "毕业证书",
                     "issuer": "SCH001", "issued_on": "2026-06-30"},
        }  # fmt: skip
        with_diploma = (
            await client.post(
                f"/v1/students/{sid}/graduation/what-if",
                json={"policy_version": "legacy-2019.1", "events": [diploma]},
            )
        ).json()
        assert with_diploma["eligible"] is True
        unknown = await client.post(
            f"/v1/students/{sid}/graduation/what-if", json={"policy_version": "nope"}
        )
        assert unknown.status_code == 422
        assert unknown.json()["code"] == "POLICY_VERSION_UNKNOWN"
        bad = await client.post(
            f"/v1/students/{sid}/graduation/what-if",
            json={"events": [{"type": "certificate.earned", "data": {}}]},
        )
        assert bad.status_code == 422 and bad.json()["code"] == "DATA_INVALID"
        after = (await client.get(f"/v1/students/{sid}/graduation")).json()
        assert after == before  # nothing changed
        timeline = (await client.get(f"/v1/students/{sid}/timeline")).json()
        assert "X-WHATIF-1" not in str(timeline)
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("admin")) as c:
        log = (await c.get(f"/v1/students/{sid}/access-log")).json()
        assert "what_if" in {row["action"] for row in log}


async def test_what_if_for_another_schools_student_is_404(gateway, students) -> None:
    async with httpx.AsyncClient(
        base_url=gateway.url, headers=gateway.headers("counselor-2")
    ) as client:
        answer = await client.post(
            f"/v1/students/{students['SCH001']}/graduation/what-if", json={"events": [SKILL]}
        )
        assert answer.status_code == 404
        sis = await client.post(
            f"/v1/students/{students['SCH001']}/graduation/what-if",
            json={},
            headers=gateway.headers("sis-1"),
        )
        assert sis.status_code == 403


def _candidate(tmp_path: Path) -> Path:
    """The default policy without the 1+X requirement, as a new version."""
    from sanzheng_shared.policy.loader import DEFAULT_DIR

    text = (DEFAULT_DIR / "default.yaml").read_text(encoding="utf-8")
    text = text.replace('version: "default-2026.2"', 'version: "candidate-no-1x"')
    text = text.replace("  - code: SKILL_1X\n    min_count: 1\n    min_level: junior\n", "")
    text = "\n".join(
        line for line in text.splitlines() if "issuer_types: [x_certificate" not in line
    )
    path = tmp_path / "candidate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_school_re_decided_under_a_candidate_policy_changes_nothing(
    gateway, students, tmp_path
) -> None:
    import asyncpg

    from sanzheng import whatif_cli

    policy = _candidate(tmp_path)
    conn = await asyncpg.connect(gateway.domain.url)
    try:
        await conn.execute("SET search_path TO gateway")
        before = await conn.fetch("SELECT * FROM decisions ORDER BY student_id")
        rows = await whatif_cli.run(conn, policy, "SCH001", 2023)
        after = await conn.fetch("SELECT * FROM decisions ORDER BY student_id")
    finally:
        await conn.close()
    assert before == after
    [mine] = [r for r in rows if r["student_id"] == students["SCH001"]]
    assert mine["changed"] and mine["eligible_before"] is False and mine["eligible_after"]
    assert students["SCH002"] not in {r["student_id"] for r in rows}
    assert whatif_cli.summary(rows, "candidate-no-1x")[0].endswith(
        "students change under candidate-no-1x"
    )

    # The command itself, as an operator runs it.
    out = tmp_path / "out.csv"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sanzheng.main",
        "what-if",
        "--policy",
        str(policy),
        "--school",
        "SCH001",
        "--cohort",
        "2023",
        "--out",
        str(out),
        env=os.environ | {"SANZHENG_DATABASE_URL": gateway.domain.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    assert students["SCH001"] in stdout.decode()
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    [line] = [r for r in table if r["student_id"] == students["SCH001"]]
    assert line["changed"] == "True" and line["missing_before"] == "SKILL_1X"
