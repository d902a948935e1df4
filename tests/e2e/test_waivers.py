"""Waivers over HTTP (issue 13, SPEC §2.5): only a principal (own school) or the bureau, as
the policy allows; the approver comes from the token; the decision names it; a revocation
or an expiry opens the requirement again; the certificates service enforces the policy on
events that did not come through the gateway."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from sanzheng_shared.testing import cloudevent, eventually

from .conftest import BATCH, lifecycle, timeline_caught_up

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def principals(gateway: Any) -> dict[str, str]:
    import asyncpg

    from sanzheng_gateway import tokens

    conn = await asyncpg.connect(gateway.domain.url)
    try:
        await conn.execute("SET search_path TO gateway")
        return {
            "principal-1": await tokens.create(conn, "principal", "SCH001", "王校长"),
            "principal-2": await tokens.create(conn, "principal", "SCH002", "李校长"),
        }
    finally:
        await conn.close()


def _as(gateway: Any, principals: dict[str, str], who: str) -> dict[str, str]:
    token = principals.get(who) or gateway.tokens[who]
    return {"Authorization": f"Bearer {token}"}


async def _labor_month(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/students/{sid}/graduation")
    if answer.status_code != 200:
        return {}
    return next(r for r in answer.json()["requirements"] if r["code"] == "LABOR_MONTH")


@pytest.fixture(scope="module")
async def without_labor(gateway: Any) -> str:
    """A SCH001 student whose June labor month was never recorded."""
    sid = f"W{uuid.uuid4().hex[:8]}"
    events = [e for e in lifecycle(sid, "SCH001") if e["type"] != "labor_education.completed"]
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("bureau")) as c:
        answer = await c.post(
            "/v1/events",
            content=json.dumps(events),
            headers={**BATCH, **gateway.headers("sis-1")},
        )
        assert answer.status_code == 202, answer.text
        await eventually(lambda: _labor_month(c, sid), lambda r: r.get("met") is False, timeout=90)

        async def enrollment() -> Any:
            return (await c.get(f"/v1/students/{sid}")).json().get("enrollment")

        # The decision and the enrollment reach the gateway on two topics.
        await eventually(enrollment, timeout=60)
    return sid


WAIVER = {
    "requirement": "LABOR_MONTH",
    "reason_category": "medical",
    "reason": "腿部骨折，医嘱休养",
    "expires_on": (date.today() + timedelta(days=200)).isoformat(),
    "evidence": "医院证明 2026-0412",
}


async def test_only_a_principal_of_the_school_or_the_bureau_may_waive(
    gateway: Any, principals: dict[str, str], without_labor: str
) -> None:
    url = f"/v1/students/{without_labor}/waivers"
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for who in ("sis-1", "counselor-1"):
            refused = await client.post(url, json=WAIVER, headers=_as(gateway, principals, who))
            assert refused.status_code == 403, (who, refused.text)
        other = await client.post(url, json=WAIVER, headers=_as(gateway, principals, "principal-2"))
        assert other.status_code == 404
        # A school system cannot claim a waiver through the events endpoint either.
        forged = cloudevent(
            "requirement.waived",
            without_labor,
            {
                "waiver_id": "forged-1",
                "requirement": "LABOR_MONTH",
                "reason_category": "medical",
                "reason": "x",
                "approver": {"name": "校长", "role": "principal"},
                "granted_on": "2026-01-01",
                "expires_on": "2027-01-01",
            },
        )
        posted = await client.post(
            "/v1/events",
            json=forged,
            headers={
                "content-type": "application/cloudevents+json",
                **gateway.headers("sis-1"),
            },
        )
        assert posted.status_code == 422
        assert posted.json()["reasons"][0]["code"] == "TYPE_NOT_ALLOWED"


async def test_a_waiver_the_policy_does_not_allow_is_refused_with_its_field(
    gateway: Any, principals: dict[str, str], without_labor: str
) -> None:
    url = f"/v1/students/{without_labor}/waivers"
    headers = _as(gateway, principals, "principal-1")
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers) as client:
        cases = [
            (WAIVER | {"requirement": "INTERNSHIP"}, "WAIVER_NOT_ALLOWED", "approver.role"),
            (WAIVER | {"requirement": "QUALITY"}, "WAIVER_NOT_ALLOWED", "requirement"),
            (WAIVER | {"reason_category": "hardship"}, "WAIVER_NOT_ALLOWED", "reason_category"),
            (WAIVER | {"expires_on": "2020-01-01"}, "WAIVER_EXPIRY_INVALID", "expires_on"),
        ]
        for body, code, field in cases:
            answer = await client.post(url, json=body)
            assert answer.status_code == 422, answer.text
            assert answer.json()["code"] == code
            assert answer.json()["reasons"][0]["field"] == field


async def test_a_waiver_meets_the_requirement_until_revoked(
    gateway: Any, principals: dict[str, str], without_labor: str
) -> None:
    sid = without_labor
    principal = _as(gateway, principals, "principal-1")
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("counselor-1")) as c:
        granted = await c.post(f"/v1/students/{sid}/waivers", json=WAIVER, headers=principal)
        assert granted.status_code == 202, granted.text
        waiver_id = granted.json()["waiver_id"]
        met = await eventually(lambda: _labor_month(c, sid), lambda r: r.get("met"), timeout=60)
        assert met["detail"] == (
            f"waived by 王校长 (principal), reason medical: 腿部骨折，医嘱休养,"
            f" until {WAIVER['expires_on']}"
        )

        async def listed() -> list[dict[str, Any]]:
            answer = await c.get("/v1/schools/SCH001/waivers")
            assert answer.status_code == 200, answer.text
            return [w for w in answer.json() if w["waiver_id"] == waiver_id]

        [shown] = await eventually(listed, timeout=30)
        assert shown["status"] == "active" and shown["student_id"] == sid
        assert shown["approver"] == {"name": "王校长", "role": "principal"}
        assert shown["evidence"] == "医院证明 2026-0412"
        status = (await c.get(f"/v1/students/{sid}")).json()
        assert [w["waiver_id"] for w in status["waivers"]] == [waiver_id]

        # What-if and as_of fold the waiver through the certificates service's handlers:
        # once the timeline holds it, the what-if of nothing changes nothing.
        await timeline_caught_up(c, sid, {})
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the school's day
        as_of = await c.get(f"/v1/students/{sid}/graduation", params={"as_of": today})
        assert as_of.status_code == 200, as_of.text
        [labor] = [r for r in as_of.json()["requirements"] if r["code"] == "LABOR_MONTH"]
        assert labor["met"] and labor["detail"].startswith("waived by 王校长 (principal)")
        other = await c.get("/v1/schools/SCH001/waivers", headers=gateway.headers("counselor-2"))
        assert other.status_code == 404

        # A counselor may read but not revoke; the principal revokes.
        path = f"/v1/students/{sid}/waivers/{waiver_id}"
        assert (await c.delete(path)).status_code == 403
        assert (await c.delete(path + "x", headers=principal)).status_code == 404
        revoked = await c.delete(path, params={"reason": "已康复"}, headers=principal)
        assert revoked.status_code == 202, revoked.text
        unmet = await eventually(
            lambda: _labor_month(c, sid), lambda r: r.get("met") is False, timeout=60
        )
        assert "waived" not in unmet["detail"]
        [gone] = await eventually(listed, lambda w: w[0]["status"] == "revoked", timeout=30)
        assert gone["revoked_by"] == {"name": "王校长", "role": "principal"}


async def test_the_certificates_service_enforces_the_policy_and_expiry_on_kafka(
    gateway: Any, without_labor: str
) -> None:
    """Events that did not pass the gateway: a role the policy does not allow is rejected to
    sis.rejections; an allowed waiver that has expired is kept but does not count."""
    domain, sid = gateway.domain, without_labor
    data = {
        "requirement": "LABOR_MONTH",
        "reason_category": "medical",
        "reason": "旧的免除",
        "granted_on": "2020-01-01",
        "expires_on": "2020-12-31",
    }
    claimed = cloudevent(
        "requirement.waived",
        sid,
        data | {"waiver_id": "kafka-1", "approver": {"name": "某班主任", "role": "counselor"}},
    )
    expired = cloudevent(
        "requirement.waived",
        sid,
        data | {"waiver_id": "kafka-2", "approver": {"name": "市教育局", "role": "bureau"}},
    )
    old_form = {"reason": "x", "approved_by": "李主任", "on": "2026-01-01"}
    old_exemption = cloudevent("labor_education.exempted", sid, old_form)
    await domain.send("certificates", claimed, expired)
    await domain.send("labor-education", old_exemption)

    async def reasons() -> dict[str, list[tuple[str, str | None]]]:
        return {
            r["data"]["id"]: [(x["code"], x.get("field")) for x in r["data"]["reasons"]]
            for r in await domain.rejections(sid)
        }

    found = await eventually(
        reasons, lambda r: {claimed["id"], old_exemption["id"]} <= set(r), timeout=60
    )
    assert found[claimed["id"]] == [("WAIVER_NOT_ALLOWED", "approver.role")]
    assert ("DATA_REQUIRED", "approver_role") in found[old_exemption["id"]]
    assert expired["id"] not in found
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("bureau")) as c:
        detail = await eventually(
            lambda: _labor_month(c, sid),
            lambda r: r.get("detail", "").endswith("expired on 2020-12-31"),
            timeout=60,
        )
        assert detail["met"] is False
        assert detail["detail"].endswith("; waiver by 市教育局 expired on 2020-12-31")


async def test_the_evidence_may_be_given_as_the_event_carries_it(
    gateway: Any, principals: dict[str, str], without_labor: str
) -> None:
    """`evidence` in the body as a reference, or as `requirement.waived` carries it:
    `{kind, reference}`. Anything else is refused with the field."""
    url = f"/v1/students/{without_labor}/waivers"
    headers = _as(gateway, principals, "principal-1")
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers) as c:
        for evidence in (42, {"kind": "hospital"}, "", None):
            refused = await c.post(url, json=WAIVER | {"evidence": evidence})
            assert refused.status_code == 422, (evidence, refused.text)
            assert refused.json()["reasons"][0]["field"].startswith("evidence"), refused.text
        evidence = {"kind": "hospital_certificate", "reference": "市一医院 2026-0977"}
        granted = await c.post(url, json=WAIVER | {"evidence": evidence})
        assert granted.status_code == 202, granted.text
        waiver_id = granted.json()["waiver_id"]

        async def listed() -> list[dict[str, Any]]:
            answer = await c.get("/v1/schools/SCH001/waivers")
            return [w for w in answer.json() if w["waiver_id"] == waiver_id]

        [shown] = await eventually(listed, timeout=30)
        assert shown["evidence"] == "市一医院 2026-0977"
        timeline = (await c.get(f"/v1/students/{without_labor}/timeline")).json()
        [event] = [e for e in timeline if e["data"].get("waiver_id") == waiver_id]
        assert event["type"] == "requirement.waived"
        assert event["data"]["evidence"] == evidence


async def test_the_waivers_and_a_timeline_answer_as_files(gateway: Any, without_labor: str) -> None:
    """SPEC §5.2: lists answer ?format=csv|xlsx too. Before, these answered JSON."""
    import csv
    import io

    from openpyxl import load_workbook

    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers("bureau")) as c:
        listed = (await c.get("/v1/schools/SCH001/waivers")).json()
        assert listed
        answer = await c.get("/v1/schools/SCH001/waivers", params={"format": "csv"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.content.startswith("\ufeff".encode())
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert {r["waiver_id"] for r in rows} == {w["waiver_id"] for w in listed}
        assert all(r["student_id"] and r["requirement"] and r["status"] for r in rows)
        workbook = await c.get("/v1/schools/SCH001/waivers", params={"format": "xlsx"})
        assert workbook.status_code == 200
        sheet = load_workbook(io.BytesIO(workbook.content)).active
        header, *cells = list(sheet.values)
        assert "waiver_id" in header and len(cells) == len(listed)

        timeline = (await c.get(f"/v1/students/{without_labor}/timeline")).json()
        answer = await c.get(f"/v1/students/{without_labor}/timeline", params={"format": "csv"})
        assert answer.status_code == 200
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert [r["type"] for r in rows] == [e["type"] for e in timeline]
        assert "attachment" in answer.headers["content-disposition"]
