"""The gateway's HTTP API (SPEC §5.2, §8): ingest over HTTP, school-scoped reads from its
own read model, the access log. Every endpoint is tried with another school's token."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from sanzheng_shared.testing import cloudevent, enrolled, eventually
from tests.e2e.conftest import (
    BATCH,
    STRUCTURED,
    RunningGateway,
    lifecycle,
    projection_snapshot,
    replay_service,
)

pytestmark = pytest.mark.slow


def _missing(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["requirements"] if not r["met"]]


async def test_a_counselor_sees_the_status_and_what_is_missing(gateway, students) -> None:
    sid = students["SCH001"]
    async with httpx.AsyncClient(
        base_url=gateway.url, headers=gateway.headers("counselor-1")
    ) as client:
        status = (await client.get(f"/v1/students/{sid}")).json()
        assert status["enrollment"]["class_id"] == "C2024-01"
        assert status["internships"][0]["status"] == "completed"
        assert status["graduation"]["eligible"] is False
        [skill] = [r for r in status["graduation"]["requirements"] if r["code"] == "SKILL_1X"]
        assert skill["detail"] == "skill certificate missing: 0 of 1 at level junior or above"
        timeline = (await client.get(f"/v1/students/{sid}/timeline")).json()
        assert [t["type"] for t in timeline] == [
            "student.enrolled",
            "course.completed",
            "course.completed",
            "course.completed",
            "labor_education.completed",
            "internship.started",
            "internship.completed",
            "certificate.earned",
        ]
        cohort = (
            await client.get(
                "/v1/schools/SCH001/graduation", params={"cohort": 2023, "missing": "SKILL_1X"}
            )
        ).json()
        assert sid in [s["student_id"] for s in cohort["students"]]
        assert {p["code"]: p["met"] for p in cohort["progress"]}["ACADEMIC"] >= 1
        none = (
            await client.get(
                "/v1/schools/SCH001/graduation", params={"missing": "ENROLLED", "cohort": 2023}
            )
        ).json()
        assert sid not in [s["student_id"] for s in none["students"]]


async def test_as_of_decides_from_what_had_occurred_and_shows_what_was_announced(
    gateway, students
) -> None:
    sid = students["SCH001"]
    async with httpx.AsyncClient(
        base_url=gateway.url, headers=gateway.headers("counselor-1")
    ) as client:

        async def as_of(day: str) -> httpx.Response:
            return await client.get(f"/v1/students/{sid}/graduation", params={"as_of": day})

        past = await as_of("2020-01-01")
        assert past.status_code == 404  # nothing had happened, nothing was decided back then
        # Enrolled on 2024-09-01 (the fixture's date); the labor month (June 2025) and the
        # internship (ended 2026-02-28) and the courses (term 2025-1, ended January 2026)
        # had happened by March 2026, the quality certificate (2026-06-20) had not. Every
        # event arrived (and was announced) later, today.
        march = (await as_of("2026-03-01")).json()
        assert _missing(march) == ["SKILL_1X", "QUALITY"]
        assert march["as_of"] == "2026-03-01"
        assert march["announced"] is None and march["differs"] is True
        first_year = (await as_of("2025-01-01")).json()
        assert _missing(first_year) == [
            "ACADEMIC", "SKILL_1X", "QUALITY", "LABOR_MONTH", "INTERNSHIP"
        ]  # fmt: skip
        now = (await client.get(f"/v1/students/{sid}/graduation")).json()
        # Without as_of, the object graduation.eligibility_changed carries (SPEC §3.3).
        assert set(now) == {"eligible", "requirements", "policy_version", "decided_at"}
        later = (await as_of("2099-01-01")).json()
        assert _missing(later) == _missing(now)
        assert later["announced"] == {k: now[k] for k in later["announced"]}
        assert later["differs"] is False
        # The states follow the day asked about: in 2099 every missing one is overdue.
        assert {r["state"] for r in later["requirements"] if not r["met"]} == {"overdue"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/students/{sid}",
        "/v1/students/{sid}/graduation",
        "/v1/students/{sid}/timeline",
        "/v1/students/{sid}/graduation?as_of=2099-01-01",
    ],
)
async def test_another_schools_student_is_404_on_every_read(gateway, students, path) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        mine = await client.get(
            path.format(sid=students["SCH001"]), headers=gateway.headers("counselor-1")
        )
        theirs = await client.get(
            path.format(sid=students["SCH002"]), headers=gateway.headers("counselor-1")
        )
        bureau = await client.get(
            path.format(sid=students["SCH002"]), headers=gateway.headers("bureau")
        )
    assert mine.status_code == 200
    assert theirs.status_code == 404 and students["SCH002"] not in theirs.text.replace(
        f"no student {students['SCH002']}", ""
    )
    assert bureau.status_code == 200


async def test_another_schools_cohort_list_is_404(gateway, students) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        assert (
            await client.get(
                "/v1/schools/SCH002/graduation", headers=gateway.headers("counselor-1")
            )
        ).status_code == 404
        assert (
            await client.get("/v1/schools/SCH002/graduation", headers=gateway.headers("bureau"))
        ).status_code == 200


async def test_a_school_system_cannot_post_for_another_school(gateway) -> None:
    event = enrolled(f"X{uuid.uuid4().hex[:8]}") | {"schoolid": "SCH002"}
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        answer = await client.post(
            "/v1/events",
            content=json.dumps(event),
            headers={**STRUCTURED, **gateway.headers("sis-1")},
        )
        counselor = await client.post(
            "/v1/events",
            content=json.dumps(event),
            headers={**STRUCTURED, **gateway.headers("counselor-2")},
        )
    assert answer.status_code == 422
    assert answer.json()["reasons"] == [
        {
            "code": "SCHOOL_MISMATCH",
            "field": "schoolid",
            "message": "this token publishes for school SCH001 only",
        }
    ]
    assert counselor.status_code == 403


async def test_bad_input_is_refused_with_the_field_and_the_problem(gateway) -> None:
    bad = enrolled(f"X{uuid.uuid4().hex[:8]}")
    del bad["data"]["birth_date"]
    good = enrolled(f"Y{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("sis-1")) as c:
        not_json = await c.post("/v1/events", content=b"{nope", headers=STRUCTURED)
        missing = await c.post("/v1/events", content=json.dumps([good, bad]), headers=BATCH)
        huge = await c.post("/v1/events", content=b" " * (1024 * 1024 + 1), headers=STRUCTURED)
        wrong_type = await c.post("/v1/events", content="x", headers={"content-type": "text/plain"})
        no_token = await c.post(
            "/v1/events",
            content=json.dumps(good),
            headers={**STRUCTURED, "Authorization": "Bearer szk_s_not-a-real-token"},
        )
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    assert missing.status_code == 422
    assert missing.json()["reasons"] == [
        {
            "index": 1,
            "code": "DATA_REQUIRED",
            "message": "required field `birth_date` is missing",
            "field": "birth_date",
        }
    ]
    assert huge.status_code == 413
    assert wrong_type.status_code == 415
    assert no_token.status_code == 401


async def test_admin_sees_who_viewed_a_student_including_denials(gateway, students) -> None:
    sid = students["SCH002"]
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        await client.get(f"/v1/students/{sid}", headers=gateway.headers("counselor-1"))
        await client.get(f"/v1/students/{sid}", headers=gateway.headers("counselor-2"))
        log = await client.get(f"/v1/students/{sid}/access-log", headers=gateway.headers("admin"))
        refused = await client.get(
            f"/v1/students/{sid}/access-log", headers=gateway.headers("counselor-2")
        )
    outcomes = {(e["school_id"], e["outcome"]) for e in log.json()}
    assert {("SCH001", "denied_other_school"), ("SCH002", "allowed")} <= outcomes
    assert all(e["request_id"] for e in log.json())
    assert refused.status_code == 403


async def test_a_revoked_token_stops_working(gateway) -> None:
    import asyncpg

    from sanzheng_gateway import tokens

    conn = await asyncpg.connect(gateway.domain.url)
    await conn.execute("SET search_path TO gateway")
    token = await tokens.create(conn, "counselor", "SCH001")
    async with httpx.AsyncClient(
        base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert (await client.get("/v1/schools/SCH001/graduation")).status_code == 200
        assert await tokens.revoke(conn, token)
        assert (await client.get("/v1/schools/SCH001/graduation")).status_code == 401
    stored = await conn.fetchval("SELECT count(*) FROM tokens WHERE token_hash = $1", token)
    await conn.close()
    assert stored == 0, "the token itself is never stored, only its hash"


async def test_health_readiness_metrics_and_openapi(gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        assert (await client.get("/readyz")).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert "sanzheng_events_total" in metrics and "sanzheng_consumer_lag" in metrics
        spec = (await client.get("/openapi.json")).json()
        assert {
            "/v1/events",
            "/v1/students/{student_id}",
            "/v1/schools/{school_id}/graduation",
            "/v1/students/{student_id}/timeline",
        } <= set(spec["paths"])


async def test_held_submissions_show_in_the_status_until_the_fact_arrives(gateway) -> None:
    sid = f"P{uuid.uuid4().hex[:8]}"
    [enrollment, labor, *_] = lifecycle(sid, "SCH001")
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        sent = await client.post(
            "/v1/events",
            content=json.dumps(labor),
            headers={**STRUCTURED, **gateway.headers("sis-1")},
        )
        assert sent.status_code == 202

        async def status() -> dict:
            r = await client.get(f"/v1/students/{sid}", headers=gateway.headers("counselor-1"))
            return r.json() if r.status_code == 200 else {}

        held = await eventually(status, lambda s: bool(s.get("pending")))
        [shown] = held["pending"]
        assert shown.pop("stale") is False, "held just now: not stale"
        assert shown.pop("held_since").startswith("20")
        assert [shown] == [
            {
                "source": "sis/SCH001",
                "id": labor["id"],
                "type": "labor_education.completed",
                "waiting_for": "student.enrolled",
                "held_by": "labor-education",
            }
        ]
        theirs = await client.get(f"/v1/students/{sid}", headers=gateway.headers("counselor-2"))
        assert theirs.status_code == 404

        await client.post(
            "/v1/events",
            content=json.dumps(enrollment),
            headers={**STRUCTURED, **gateway.headers("sis-1")},
        )
        done = await eventually(status, lambda s: s.get("labor_education") and not s["pending"])
        assert done["labor_education"][0]["kind"] == "completed"


async def test_a_diploma_held_until_the_student_is_eligible_shows_as_pending(gateway) -> None:
    """The certificates service holds a diploma sent before the student is eligible; the
    student's status lists it with what it waits for, and drops it once accepted."""
    sid = f"D{uuid.uuid4().hex[:8]}"
    facts = lifecycle(sid, "SCH001")  # everything but the skill certificate

    def certificate(kind: str, **extra: Any) -> dict[str, Any]:
        data = {
            "certificate_no": f"{kind}-{sid}",
            "kind": kind,
            "title": kind,
            "issuer": "SCH001",
            "issued_on": "2026-06-25",
            **extra,
        }
        return cloudevent("certificate.earned", sid, data) | {"time": "2026-06-25T09:00:00+08:00"}

    diploma = certificate("diploma")
    skill = certificate("skill", level="junior", issuer_type="x_certificate")
    async with httpx.AsyncClient(base_url=gateway.url) as client:

        async def post(events: list[dict[str, Any]]) -> None:
            sent = await client.post(
                "/v1/events",
                content=json.dumps(events),
                headers={**BATCH, **gateway.headers("sis-1")},
            )
            assert sent.status_code == 202, sent.text

        async def status() -> dict:
            r = await client.get(f"/v1/students/{sid}", headers=gateway.headers("counselor-1"))
            return r.json() if r.status_code == 200 else {}

        await post([*facts, diploma])
        # The other facts may be held a moment too (they overtook the enrollment).
        held = await eventually(
            status,
            # (the diploma itself may wait for the student first, then for the eligibility)
            lambda s: (
                [(p["held_by"], p["waiting_for"]) for p in s.get("pending", [])]
                == [("certificates", "graduation.eligibility_changed")]
            ),
            timeout=90,
        )
        [shown] = held["pending"]
        assert {k: shown[k] for k in ("id", "type", "waiting_for", "held_by")} == {
            "id": diploma["id"],
            "type": "certificate.earned",
            "waiting_for": "graduation.eligibility_changed",
            "held_by": "certificates",
        }

        await post([skill])
        done = await eventually(
            status,
            lambda s: (
                s.get("pending") == []
                and "diploma" in {c["kind"] for c in s.get("certificates", [])}
            ),
            timeout=90,
        )
        assert done["graduation"]["eligible"] is True


async def test_the_gateways_read_model_rebuilt_from_its_event_log_equals_the_live_one(
    gateway: RunningGateway, students: dict[str, str]
) -> None:
    from sanzheng_gateway.app import SPEC

    # What other tests of this module sent may still be arriving: wait for a still moment.
    seen: list[Any] = []

    async def still() -> bool:
        seen.append(await projection_snapshot(gateway.domain.url, SPEC))
        return len(seen) > 1 and seen[-1] == seen[-2]

    await eventually(still, timeout=60, interval=1.0)
    live = seen[-1]
    assert live["students"] and live["decisions"] and live["timeline"]
    result = await replay_service(gateway.domain, SPEC)
    assert result.events >= len(live["timeline"])
    assert await projection_snapshot(gateway.domain.url, SPEC) == live
