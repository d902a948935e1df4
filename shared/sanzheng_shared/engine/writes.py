"""A batch's writes in as few round trips as they allow.

The save phase writes a handful of tables (the projection's, the event log, the offsets,
the outbox), one statement each. Every statement is a round trip: at the small batches a
steady flow gives, those round trips, not the rows, are most of a batch's cost. So the
save phase hands its statements to `GatheredWrites`, which sends them as one statement of
data-modifying CTEs (`WITH w0 AS (DELETE …), w1 AS (INSERT …) SELECT pg_notify(…)`).

The CTEs of one statement run on one snapshot, in no promised order, and do not see each
other's rows. That is harmless for different tables and unsafe for two on one table (a
delete, then an insert that takes the freed unique value): such a statement starts a new
round trip, so statements on one table keep their order.
"""

from __future__ import annotations

import re
from typing import Any

# The table a data-modifying statement writes; a notification joins the combined
# statement's SELECT list. Anything else is sent on its own.
_WRITES = re.compile(r"^\s*(?:INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+([\w.\"]+)", re.IGNORECASE)
_EXPRESSIONS = re.compile(r"^\s*SELECT\s+(pg_notify\(\$\d+,\s*''\))\s*$", re.IGNORECASE)
_PARAMETER = re.compile(r"\$(\d+)")

Statement = tuple[str, tuple[Any, ...]]


class GatheredWrites:
    """Stands in for the connection while the save phase runs (`execute` only), then
    `send` writes it all."""

    def __init__(self) -> None:
        self._statements: list[Statement] = []

    async def execute(self, sql: str, *args: Any) -> None:
        self._statements.append((sql, args))

    async def send(self, conn: Any) -> None:
        for sql, args in combined(self._statements):
            await conn.execute(sql, *args)
        self._statements.clear()


def combined(statements: list[Statement]) -> list[Statement]:
    """The statements, in order, joined into as few as keep their meaning."""
    out: list[Statement] = []
    group: list[Statement] = []
    tables: set[str] = set()
    for statement in statements:
        table = _target(statement[0])
        if table is None:  # neither a plain write nor a plain SELECT: on its own
            out += [_join(group)] if group else []
            out.append(statement)
            group, tables = [], set()
            continue
        if table and table in tables:
            out.append(_join(group))
            group, tables = [], set()
        group.append(statement)
        if table:
            tables.add(table)
    if group:
        out.append(_join(group))
    return out


def _target(sql: str) -> str | None:
    if m := _WRITES.match(sql):
        # Unqualified, as the services name their tables (the search path is the schema).
        return m.group(1).replace('"', "").lower().rsplit(".", 1)[-1]
    if _EXPRESSIONS.match(sql):
        return ""
    return None


def _join(group: list[Statement]) -> Statement:
    if len(group) == 1:
        return group[0]
    ctes: list[str] = []
    selected: list[str] = []
    args: list[Any] = []
    for sql, own in group:
        shifted = _shifted(sql, len(args))
        args += own
        if m := _EXPRESSIONS.match(shifted):
            selected.append(m.group(1))
        else:
            ctes.append(f"w{len(ctes)} AS ({shifted})")
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    return f"{head}SELECT {', '.join(selected) or '1'}", tuple(args)


def _shifted(sql: str, by: int) -> str:
    """$1, $2, … renumbered as $(1+by), $(2+by), …: the statement's own arguments follow
    those of the statements before it."""
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + by}", sql)
