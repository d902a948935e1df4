"""The engine against the real database: a constant number of statements per batch, and
two consumers (replicas, or the shared and per-school topic groups) that never interleave
on one student or on one shared key."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from sanzheng_certificates.app import SPEC as CERTIFICATES
from sanzheng_certificates.decisions import explanation
from sanzheng_certificates.graduation import decide
from sanzheng_certificates.projection import CertificatesState
from sanzheng_credits.app import SPEC as CREDITS
from sanzheng_enrollment.app import SPEC as ENROLLMENT
from sanzheng_gateway.app import SPEC as GATEWAY
from sanzheng_internship.app import SPEC as INTERNSHIP
from sanzheng_labor_education.app import SPEC as LABOR
from sanzheng_shared.consumer.batch import BatchProcessor
from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.domain.school_year import expected_graduation
from sanzheng_shared.engine.counting import CountingConnection
from sanzheng_shared.engine.eventlog import LoggedRecord
from sanzheng_shared.testing import cloudevent, enrolled
from tests.integration.conftest import POLICIES, TOPICS, canonical, outbox_events, processor, record


def _enrolled_canonical(student: str) -> LoggedRecord:
    return record(TOPICS.outbound("enrollment"), canonical(enrolled(student), "enrollment"))


async def test_a_batch_of_500_events_costs_the_statements_of_a_batch_of_one(
    enrollment: BatchProcessor, certificates: BatchProcessor
) -> None:
    inbound = TOPICS.inbound("enrollment")
    one = await enrollment.process([record(inbound, enrolled("ONE-1"))])
    many = await enrollment.process([record(inbound, enrolled(f"MANY-{i}")) for i in range(500)])
    assert (one.applied, many.applied) == (1, 500)
    assert one.statements == many.statements, (one.statements, many.statements)

    one = await certificates.process([_enrolled_canonical("ONE-1")])
    many = await certificates.process([_enrolled_canonical(f"MANY-{i}") for i in range(500)])
    assert (one.applied, many.applied) == (1, 500)
    assert one.statements == many.statements, (one.statements, many.statements)


def _facts(student: str, round_: int) -> list[tuple[str, dict[str, Any]]]:
    """Four kinds of fact about one student, each from another topic: consumed by
    different consumers at once, they are the write skew of issue #8."""
    return [
        (
            TOPICS.inbound("certificates"),
            cloudevent(
                "certificate.earned",
                student,
                {
                    "certificate_no": f"Q-{student}-{round_}",
                    "kind": "quality",
                    "title": "德体美劳素质融合证书",
                    "issuer": "school",
                    "issued_on": "2026-06-01",
                },
            ),
        ),
        (
            TOPICS.outbound("labor-education"),
            canonical(
                cloudevent(
                    "labor_education.completed",
                    student,
                    {
                        "period_start": "2025-06-02",
                        "period_end": "2025-06-30",
                        "hours": 160,
                        "site": "校内实训基地",
                        "evaluation": "pass",
                    },
                ),
                "labor-education",
            ),
        ),
        (
            TOPICS.outbound("internship"),
            canonical(
                cloudevent(
                    "internship.completed",
                    student,
                    {
                        "internship_id": f"I-{student}-{round_}",
                        "end_on": "2026-12-20",
                        "hours": 960,
                        "evaluation": "pass",
                        "kind": "post",
                    },
                ),
                "internship",
            ),
        ),
        (
            TOPICS.inbound("certificates"),
            cloudevent(
                "certificate.earned",
                student,
                {
                    "certificate_no": f"S-{student}-{round_}",
                    "kind": "skill",
                    "level": "junior",
                    "issuer_type": "x_certificate",
                    "title": "1+X 数控车铣加工",
                    "issuer": "org",
                    "issued_on": "2026-06-01",
                },
            ),
        ),
    ]


async def _stored_versus_recomputed(proc: BatchProcessor, students: list[str]) -> dict[str, Any]:
    """Students whose stored decision is not what their stored facts decide."""
    async with proc.pool.acquire() as conn:
        state = CertificatesState()
        await state.load(conn, students, [])
    wrong = {}
    for student in students:
        known = state.known.get(student) if state.known is not None else None
        assert known is not None
        policy = POLICIES.for_student(
            known["school_id"],
            known["cohort"],
            expected_graduation(known["cohort"], known["program_years"]),
        )
        expected = explanation(decide(state.record(student), policy))
        stored = state.decisions.get(student)
        got = {k: stored[k] for k in expected} if stored else None
        if got != expected:
            wrong[student] = (got, expected)
    return wrong


async def test_two_consumers_on_one_student_never_decide_from_half_the_facts(
    certificates: BatchProcessor, certificates_replica: BatchProcessor
) -> None:
    students = [f"SKEW-{i}" for i in range(40)]
    await certificates.process([_enrolled_canonical(s) for s in students])
    for round_ in range(3):
        per_kind: list[list[LoggedRecord]] = [[], [], [], []]
        for student in students:
            for kind, (topic, event) in enumerate(_facts(student, round_)):
                per_kind[kind].append(record(topic, event))
        # Each kind of fact in its own batch, two consumers at once (replicas).
        await asyncio.gather(
            certificates.process(per_kind[0]),
            certificates_replica.process(per_kind[1]),
            certificates.process(per_kind[2]),
            certificates_replica.process(per_kind[3]),
        )
    wrong = await _stored_versus_recomputed(certificates, students)
    assert not wrong, f"{len(wrong)} decisions made from half the facts: {next(iter(wrong))}"


async def _outbox(proc: BatchProcessor, event_type: str) -> list[dict[str, Any]]:
    return [e for e in await outbox_events(proc) if e.get("type") == event_type]


async def test_two_students_claiming_one_certificate_number_at_once_one_is_refused(
    certificates: BatchProcessor, certificates_replica: BatchProcessor
) -> None:
    topic = TOPICS.inbound("certificates")

    def claim(student: str, number: str) -> LoggedRecord:
        return record(
            topic,
            cloudevent(
                "certificate.earned",
                student,
                {
                    "certificate_no": number,
                    "kind": "quality",
                    "title": "素质证书",
                    "issuer": "school",
                    "issued_on": "2026-06-01",
                },
            ),
        )

    numbers = [f"RACE-{i}" for i in range(30)]
    await asyncio.gather(
        certificates.process([claim("A", n) for n in numbers]),
        certificates_replica.process([claim("B", n) for n in reversed(numbers)]),
    )
    earned = await _outbox(certificates, "certificate.earned")
    rejected = await _outbox(certificates, "submission.rejected")
    assert sorted(e["data"]["certificate_no"] for e in earned) == sorted(numbers)
    codes = [r["code"] for e in rejected for r in e["data"]["reasons"]]
    assert codes == ["CERT_DUPLICATE_NO"] * len(numbers)
    async with certificates.pool.acquire() as conn:
        held = await conn.fetch("SELECT certificate_no, student_id FROM certificates")
    assert len(held) == len(numbers)


async def test_two_enrollments_of_one_national_id_at_once_one_is_refused(
    enrollment: BatchProcessor, database_url: str
) -> None:
    ids = ["11010520080501123X", "110105200805011233"]
    valid = next(i for i in ids if _valid(i))
    inbound = TOPICS.inbound("enrollment")
    async for replica in processor(database_url, ENROLLMENT):
        outcomes = await asyncio.gather(
            enrollment.process([record(inbound, enrolled("NID-A", national_id=valid))]),
            replica.process(
                [
                    record(
                        inbound,
                        enrolled("NID-B", national_id=valid)
                        | {"schoolid": "SCH002", "source": "sis/SCH002"},
                    )
                ]
            ),
        )
    assert sorted((o.applied, o.rejected, o.dead_lettered) for o in outcomes) == [
        (0, 1, 0),
        (1, 0, 0),
    ]
    rejected = await _outbox(enrollment, "submission.rejected")
    [reason] = rejected[0]["data"]["reasons"]
    assert reason["code"] == "ENR_DUPLICATE_ID"
    assert "NID-A" not in reason["message"] and "NID-B" not in reason["message"]


def _valid(number: str) -> bool:
    from stdnum.cn import ric

    return bool(ric.is_valid(number))


async def test_a_batch_loads_every_table_of_its_students_in_one_statement_as_select_star(
    certificates: BatchProcessor,
) -> None:
    """Rows of all tables come back in one round trip, with the columns' own types (a date
    a date, jsonb decoded, numbers exact): the same rows, of the same values, as one
    `SELECT *` per table would give."""
    students = ["LOAD-1", "LOAD-2"]
    await certificates.process([_enrolled_canonical(s) for s in students])
    for round_ in range(2):
        await certificates.process([record(t, e) for s in students for t, e in _facts(s, round_)])
    async with certificates.pool.acquire() as raw:
        conn = CountingConnection(raw)
        state = CertificatesState()
        await state.load(conn, [*students, "NOBODY"], [])
        # One for the keys of the diplomas held for them (none here), one for every table.
        assert conn.statements == 2
        compared = 0
        for table in state.tables():
            if table.student is None or not table.loaded:
                continue
            expected = CertificatesState()
            same = next(t for t in expected.tables() if t.name == table.name)
            await same.load(raw, f"{same.student} = ANY($1::text[])", students)
            assert table.rows == same.rows, table.name
            compared += bool(same.rows)
    # Facts of every kind were stored, so most tables held rows to compare.
    assert compared >= 6, compared
    decision = state.decisions.get("LOAD-1")
    assert decision is not None and isinstance(decision["requirements"], list)
    assert isinstance(state.certificates.of_student("LOAD-1")[0]["issued_on"], date)
    assert isinstance(state.internships.of_student("LOAD-1")[0]["hours"], Decimal)


async def test_every_table_a_batch_loads_by_student_has_an_index_led_by_that_column(
    database_url: str,
) -> None:
    """The batch's load is one prepared statement, run again and again: PostgreSQL may give
    it a generic plan, which reads a table without such an index whole, for every batch,
    so that a batch would cost more as the province grows."""
    conn = await asyncpg.connect(database_url)
    unindexed = []
    try:
        for spec in (ENROLLMENT, INTERNSHIP, LABOR, CERTIFICATES, CREDITS, GATEWAY):
            await migrate(conn, spec.schema, spec.migrations, known_students=spec.known_students)
            for table in spec.state().loaded_by_student():
                leading = await conn.fetch(
                    "SELECT a.attname FROM pg_index i"
                    " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
                    " WHERE i.indrelid = to_regclass($1)",
                    f"{spec.schema}.{table.name}",
                )
                if table.student not in {r["attname"] for r in leading}:
                    unindexed.append(f"{spec.schema}.{table.name}({table.student})")
    finally:
        await conn.close()
    assert not unindexed, unindexed


async def test_a_column_dropped_under_a_running_service_is_forgotten_and_the_batch_applied(
    certificates: BatchProcessor,
) -> None:
    """The columns a batch loads by are read once; a migration of another instance may
    drop one meanwhile. The batch that finds it gone reads them again, not the DLQ."""
    async with certificates.pool.acquire() as conn:
        await conn.execute("ALTER TABLE programs ADD COLUMN retired_note text")
    certificates.new_state().catalog.forget()  # as a service started after that column
    first = await certificates.process([_enrolled_canonical("DROPPED-1")])
    assert first.applied == 1
    async with certificates.pool.acquire() as conn:
        await conn.execute("ALTER TABLE programs DROP COLUMN retired_note")
    second = await certificates.process([_enrolled_canonical("DROPPED-2")])
    assert (second.applied, second.dead_lettered) == (1, 0)
