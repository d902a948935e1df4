"""`--state-students`: a service's rows copied under suffixed ids are a province of other
students, not the workload's students many times over (or its run again would load them)."""

from __future__ import annotations

import asyncpg

from sanzheng.bench import inflate
from sanzheng_shared.testing import fetch

SCHEMA = "inflate_probe"


async def test_copies_carry_their_own_ids_and_what_they_wait_for(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    await conn.execute(
        f"""CREATE SCHEMA {SCHEMA};
        CREATE TABLE {SCHEMA}.internships (
            internship_id text PRIMARY KEY, student_id text, employer_id text, hours int);
        CREATE TABLE {SCHEMA}.pending (
            seq bigserial PRIMARY KEY, student_id text, waiting_for text, event jsonb);
        INSERT INTO {SCHEMA}.internships VALUES ('INT-1', 'S-1', 'EMP-1', 480);
        INSERT INTO {SCHEMA}.pending (student_id, waiting_for, event) VALUES
            ('S-2', 'internship.started INT-9', '{{}}'),
            ('S-3', 'student.enrolled', '{{}}');"""
    )
    await conn.close()
    grown = await inflate.grow(database_url, SCHEMA, 3)
    assert (grown.rows_before, grown.rows_after) == (3, 9)

    internships = await fetch(
        database_url,
        f"SELECT internship_id, student_id, employer_id, hours FROM {SCHEMA}.internships"
        " ORDER BY 1",
    )
    assert [tuple(r) for r in internships] == [
        (f"INT-1~{g}", f"S-1~{g}", f"EMP-1~{g}", 480) for g in (1, 2, 3)
    ]
    waits = await fetch(
        database_url, f"SELECT student_id, waiting_for FROM {SCHEMA}.pending ORDER BY 1"
    )
    assert [tuple(r) for r in waits] == [
        *((f"S-2~{g}", f"internship.started INT-9~{g}") for g in (1, 2, 3)),
        *((f"S-3~{g}", "student.enrolled") for g in (1, 2, 3)),
    ]
