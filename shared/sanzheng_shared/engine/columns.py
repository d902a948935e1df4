"""Each projection table's columns, in order, as the database has them.

A batch loads its students' rows of every table in one statement (`table.load_students`),
each column as one array, which names the columns: they are read from the catalog once
per process and state class (one service's tables), before the first batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TableColumns:
    names: tuple[str, ...]
    has_array: bool
    """A column of an array type: aggregated, it would be an array of arrays, which must
    all have one length (and none be NULL). Such a table's rows travel whole instead."""


class Catalog:
    def __init__(self) -> None:
        self._tables: dict[str, TableColumns] = {}

    def forget(self) -> None:
        """After a migration changed a table under a running service: read them again."""
        self._tables.clear()

    def missing(self, tables: Iterable[str]) -> list[str]:
        return [t for t in dict.fromkeys(tables) if t not in self._tables]

    def __getitem__(self, table: str) -> TableColumns:
        return self._tables[table]

    async def read(self, conn: Any, tables: Iterable[str]) -> None:
        """The tables as the connection's search path finds them (the service's schema)."""
        missing = self.missing(tables)
        if not missing:
            return
        rows = await conn.fetch(
            "SELECT n.name, array_agg(a.attname::text ORDER BY a.attnum) AS names,"
            " bool_or(ty.typcategory = 'A') AS has_array"
            " FROM unnest($1::text[]) AS n(name)"
            " JOIN pg_attribute a ON a.attrelid = n.name::regclass"
            " AND a.attnum > 0 AND NOT a.attisdropped"
            " JOIN pg_type ty ON ty.oid = a.atttypid"
            " GROUP BY n.name",
            missing,
        )
        for row in rows:
            self._tables[row["name"]] = TableColumns(tuple(row["names"]), row["has_array"])
