"""A service's database grown to a province's size, for the "each service alone at a large
state" stage: does the cost of an event grow with the number of students already known?

After a service ran alone over the workload, every row of its schema is replaced by
`copies` copies whose identifying text (every text column of a unique index, the student
id and the employer id) carries a suffix `~1` … `~copies`. The database then holds
`copies` times the workload's students — inbox, event log, outbox, locks and projection
alike — and none of the workload's own ids, so the same workload can be run again against
it as new students.
Set-based SQL, no row through Python: 100 copies of a 10,000-student run is minutes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from sanzheng.bench.environment import connect
from sanzheng_shared import pending

# Not state: the migrations applied, where the consumer stands and what the outbox published
# (a new run starts over).
SKIPPED = frozenset({"schema_migrations", "consumer_offsets", "outbox_published"})
SUFFIXED_TYPES = frozenset({"text", "character varying", "bytea"})


@dataclass(frozen=True)
class Grown:
    tables: int
    rows_before: int
    rows_after: int


async def _columns(conn: Any, schema: str, table: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT c.column_name, c.data_type,
                  coalesce(c.column_default LIKE 'nextval(%', false) AS serial,
                  c.is_generated = 'ALWAYS' OR c.is_identity = 'YES' AS generated,
                  EXISTS (
                    SELECT 1 FROM pg_index i
                    JOIN pg_class t ON t.oid = i.indrelid
                    JOIN pg_namespace n ON n.oid = t.relnamespace
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey)
                    WHERE i.indisunique AND n.nspname = $1 AND t.relname = $2
                      AND a.attname = c.column_name) AS unique_key
           FROM information_schema.columns c
           WHERE c.table_schema = $1 AND c.table_name = $2
           ORDER BY c.ordinal_position""",
        schema,
        table,
    )
    return [dict(r) for r in rows]


# Each copy is a slice of the province with its own employers too: a city of 1M students
# has some thousand employers, not the synthetic five (whose quota rule, counting the other
# interns an employer has, would otherwise count 100 copies of every intern).
ALSO_SUFFIXED = frozenset({"student_id", "employer_id"})


def _copy_of(column: dict[str, Any]) -> str:
    name = f'"{column["column_name"]}"'
    if column["column_name"] == "waiting_for":
        # A held completion waits for its internship's start by id ("internship.started
        # INT-…"), and the copies' internship ids carry the suffix: so must what they wait
        # for, or every copy's forever-held completion would be loaded with the workload's.
        prefix = pending.waiting_for_internship("")
        return f"CASE WHEN {name} LIKE '{prefix}%' THEN {name} || '~' || g ELSE {name} END"
    suffixed = column["unique_key"] or column["column_name"] in ALSO_SUFFIXED
    if not suffixed or column["data_type"] not in SUFFIXED_TYPES:
        return name
    if column["data_type"] == "bytea":
        return f"{name} || convert_to('~' || g, 'UTF8')"
    return f"{name} || '~' || g"


async def grow(
    url: str, schema: str, copies: int, on_table: Callable[[str], None] = lambda _t: None
) -> Grown:
    """Replace every row of `schema` by `copies` suffixed copies (see the module)."""
    conn = await connect(url)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", schema
            )
            if r["tablename"] not in SKIPPED
        ]
        before = after = 0
        for table in tables:
            on_table(table)
            qualified = f'"{schema}"."{table}"'
            columns = [c for c in await _columns(conn, schema, table) if not c["generated"]]
            kept = [c for c in columns if not c["serial"]]
            names = ", ".join(f'"{c["column_name"]}"' for c in kept)
            copied = ", ".join(_copy_of(c) for c in kept)
            async with conn.transaction():
                await conn.execute(
                    f"CREATE TEMP TABLE grown_source ON COMMIT DROP AS SELECT * FROM {qualified}"
                )
                before += await conn.fetchval("SELECT count(*) FROM grown_source")
                await conn.execute(f"TRUNCATE {qualified}")
                await conn.execute(
                    f"INSERT INTO {qualified} ({names}) SELECT {copied}"
                    f" FROM grown_source, generate_series(1, {int(copies)}) g"
                    " ON CONFLICT DO NOTHING"
                )
            after += await conn.fetchval(f"SELECT count(*) FROM {qualified}")
            # A province's tables are vacuumed: without it the timed run would pay for the
            # bulk load (hint bits set on first read, autovacuum's pass over the new rows).
            await conn.execute(f"VACUUM (ANALYZE) {qualified}")
        # The load's dirty pages written before timing (a superuser's or pg_checkpoint's act:
        # against a database the bench may not checkpoint, the run goes on without).
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CHECKPOINT")
        return Grown(len(tables), before, after)
    finally:
        await conn.close()
