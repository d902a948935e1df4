"""What-if over HTTP (issue 13): the decision with hypothetical events or another policy
version, changing nothing, access-logged, scoped to the token's school."""

from __future__ import annotations

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
        assert legacy["policy_version"] == "legacy-2019.1" and legacy["eligible"] is True
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
