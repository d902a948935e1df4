"""A school writes only about its own students (SPEC §2.1, §8): on every write path — HTTP
ingest, each shared `sis.<domain>` topic, each school's own `sis.<domain>.<schoolid>` —
an event about another school's student is rejected with STUDENT_OTHER_SCHOOL, says
nothing of the owner, and changes nothing the owner sees."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from sanzheng_shared.testing import cloudevent, enrolled, eventually, publish, read_events
from tests.e2e.conftest import BATCH, RunningGateway

pytestmark = pytest.mark.slow

ATTACKER = "SCH002"


def _as_attacker(event: dict[str, Any]) -> dict[str, Any]:
    return event | {"id": str(uuid.uuid4()), "source": f"sis/{ATTACKER}", "schoolid": ATTACKER}


def _writes(victim: str) -> list[tuple[str, dict[str, Any]]]:
    """(domain, event): every inbound type, about the victim, claiming the attacker's school."""
    internship = f"INT-{victim}"
    events = [
        ("enrollment", enrolled(victim, name="冒名")),
        (
            "enrollment",
            cloudevent("student.suspended", victim, {"on": "2026-03-01", "reason": "x"}),
        ),
        (
            "enrollment",
            cloudevent("student.withdrawn", victim, {"on": "2026-03-01", "reason": "x"}),
        ),
        (
            "internship",
            cloudevent(
                "internship.terminated",
                victim,
                {"internship_id": internship, "on": "2026-01-01", "reason": "x"},
            ),
        ),
        (
            "internship",
            cloudevent(
                "internship.completed",
                victim,
                {
                    "internship_id": internship,
                    "end_on": "2026-01-01",
                    "hours": 1,
                    "evaluation": "fail",
                },
            ),
        ),
        (
            "labor-education",
            cloudevent(
                "labor_education.exempted",
                victim,
                {"reason": "x", "approved_by": "bureau", "on": "2026-01-01"},
            ),
        ),
        (
            "certificates",
            cloudevent(
                "certificate.revoked",
                victim,
                {"certificate_no": f"DIP-{victim}", "reason": "x", "on": "2026-01-01"},
            ),
        ),
        (
            "certificates",
            cloudevent(
                "certificate.earned",
                victim,
                {
                    "certificate_no": f"X-{uuid.uuid4().hex[:8]}",
                    "kind": "skill",
                    "level": "senior",
                    "issuer_type": "x_certificate",
                    "title": "1+X",
                    "issuer": "org",
                    "issued_on": "2026-06-01",
                },
            ),
        ),
    ]
    return [(d, _as_attacker(e)) for d, e in events]


async def _owner_view(gateway: RunningGateway, client: httpx.AsyncClient, sid: str) -> Any:
    status = await client.get(f"/v1/students/{sid}", headers=gateway.headers("counselor-1"))
    assert status.status_code == 200, status.text
    return status.json()


async def test_no_write_path_lets_a_school_change_another_schools_student(
    gateway: RunningGateway, students: dict[str, str]
) -> None:
    victim = students["SCH001"]
    domain = gateway.domain
    bootstrap = domain.settings.kafka_bootstrap
    assert bootstrap
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        before = await _owner_view(gateway, client, victim)

        over_http = _writes(victim)
        answer = await client.post(
            "/v1/events",
            content=json.dumps([e for _, e in over_http]),
            headers={**BATCH, **gateway.headers("sis-2")},
        )
        assert answer.status_code == 202, answer.text

        on_shared = _writes(victim)
        on_own = _writes(victim)
        for d, e in on_shared:
            await publish(bootstrap, domain.topics.inbound(d), [e])
        for d, e in on_own:
            await publish(bootstrap, domain.topics.inbound(d, ATTACKER), [e])

        sent = {
            e["id"]: path
            for path, writes in (("http", over_http), ("shared", on_shared), ("own", on_own))
            for _, e in writes
        }

        async def answered() -> dict[str, list[dict[str, Any]]]:
            events = await read_events(bootstrap, domain.topics.rejections)
            return {e["data"]["id"]: e for e in events if e["data"]["id"] in sent}

        rejections = await eventually(answered, lambda r: len(r) == len(sent), timeout=120)
        for event_id, rejection in rejections.items():
            reasons = rejection["data"]["reasons"]
            assert [(r["code"], r["field"]) for r in reasons] == [
                ("STUDENT_OTHER_SCHOOL", "subject")
            ], (sent[event_id], rejection["data"]["type"], reasons)
            # Back to the sender only, and nothing about the owner.
            assert rejection["schoolid"] == ATTACKER
            assert "SCH001" not in json.dumps(reasons, ensure_ascii=False)

        # The owner still has its student, unchanged; the attacker still cannot see it.
        await domain.wait_quiet(
            [e for writes in (on_shared, on_own, over_http) for _, e in writes], timeout=120
        )
        assert await _owner_view(gateway, client, victim) == before
        other = await client.get(f"/v1/students/{victim}", headers=gateway.headers("counselor-2"))
        assert other.status_code == 404


async def test_an_event_under_another_schools_source_is_refused(
    gateway: RunningGateway, students: dict[str, str]
) -> None:
    mine = students["SCH002"]
    domain = gateway.domain
    assert domain.settings.kafka_bootstrap
    # Claims SCH002 but uses SCH001's source, which would collide with SCH001's ids.
    forged = enrolled(mine) | {"source": "sis/SCH001", "schoolid": "SCH002"}
    await publish(domain.settings.kafka_bootstrap, domain.topics.inbound("enrollment"), [forged])
    answers = await eventually(
        lambda: domain.rejections(mine),
        lambda r: any(e["data"]["id"] == forged["id"] for e in r),
    )
    rejection = next(e for e in answers if e["data"]["id"] == forged["id"])
    assert [(r["code"], r["field"]) for r in rejection["data"]["reasons"]] == [
        ("SOURCE_MISMATCH", "source")
    ]
