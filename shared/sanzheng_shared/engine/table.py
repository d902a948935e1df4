"""One table of a projection, as a batch sees it: rows loaded in bulk, changed in memory,
written back in bulk.

An identity map per batch (cosmicpython's `seen`, quix-streams' write cache): later events
of a batch see what earlier ones wrote, and the database is touched only at load and save,
with a constant number of statements whatever the batch holds. Rows travel as JSON
(`jsonb_populate_recordset`), so one statement writes any number of rows of any shape
without a placeholder per value (asyncpg allows 32,767).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from sanzheng_shared.engine.columns import Catalog

Row = dict[str, Any]
Key = tuple[Any, ...]
_new_rows = itertools.count(1)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    raise TypeError(f"cannot store {type(value).__name__} in a row")


def rows_json(rows: Iterable[Row]) -> str:
    # orjson: a row in under a microsecond, against five with json.dumps; every batch of
    # every service writes its rows this way (dates and datetimes as isoformat() writes them).
    rows = list(rows)
    try:
        return orjson.dumps(rows, default=_json_default).decode()
    except TypeError:
        # What orjson refuses and json writes (an integer beyond 64 bits): as before, and
        # PostgreSQL says whether the column takes it.
        return json.dumps(rows, default=_json_default, ensure_ascii=False)


class Table:
    """`key` is the primary key; `student` the column that says whose row it is (rows of the
    batch's students are loaded by it); `serial` a key the database assigns on insert;
    `json_columns` hold jsonb (decoded on load, so a row round-trips unchanged)."""

    def __init__(
        self,
        name: str,
        *,
        key: tuple[str, ...],
        student: str | None = "student_id",
        serial: str | None = None,
        json_columns: tuple[str, ...] = (),
        append_only: bool = False,
        loaded: bool = True,
    ) -> None:
        self.name = name
        self.key = key
        self.student = student
        self.serial = serial
        self.json_columns = json_columns
        self.append_only = append_only
        self.loaded = loaded
        """False for a table the fold only writes to (a log): never loaded."""
        self.rows: dict[Key, Row] = {}
        self._by_student: dict[str, set[Key]] = {}
        self._sorted: dict[str, list[Key]] = {}
        """a student's keys in order, until the set changes (of_student is asked per event)"""
        self._loaded: set[Key] = set()
        self._changed: set[Key] = set()
        self._deleted: set[Key] = set()
        self._indexes: dict[str, dict[Any, set[Key]]] = {}
        """column → value → keys, for `find`: built on its first use, then kept up to date"""

    # --- load -------------------------------------------------------------------------
    async def load(self, conn: Any, where: str, *args: Any) -> None:
        """One query; rows already held (changed in this batch) are kept as they are."""
        self.accept(await conn.fetch(f"SELECT * FROM {self.name} WHERE {where}", *args))

    def accept(self, records: Iterable[Any]) -> None:
        """Rows read from the database: records of `SELECT *` or of the table's row type,
        or dicts (`load_students`)."""
        for record in records:
            row = record if isinstance(record, dict) else dict(record)
            for column in self.json_columns:
                if isinstance(row.get(column), str):
                    row[column] = json.loads(row[column])
            key = self.key_of(row)
            if key in self.rows or key in self._deleted:
                continue
            self._remember(key, row)
            self._loaded.add(key)

    # --- read -------------------------------------------------------------------------
    def key_of(self, row: Row) -> Key:
        return tuple(row[c] for c in self.key)

    def get(self, *key: Any) -> Row | None:
        return self.rows.get(tuple(key))

    def of_student(self, student_id: str) -> list[Row]:
        """The student's rows in key order (a stable order, whatever the load order)."""
        keys = self._sorted.get(student_id)
        if keys is None:
            keys = sorted(self._by_student.get(student_id, ()), key=_sortable)
            self._sorted[student_id] = keys
        return [self.rows[k] for k in keys]

    def find(self, column: str, value: Any) -> list[Row]:
        """The rows whose `column` holds `value`, in key order. A fold asking this once per
        event must not scan every row of the batch each time (quadratic in the batch)."""
        index = self._indexes.get(column)
        if index is None:
            index = {}
            for key, row in self.rows.items():
                index.setdefault(row.get(column), set()).add(key)
            self._indexes[column] = index
        return [self.rows[k] for k in sorted(index.get(value, ()), key=_sortable)]

    def __iter__(self) -> Iterator[Row]:
        return iter(list(self.rows.values()))

    # --- change -----------------------------------------------------------------------
    def put(self, row: Row) -> Row:
        """Insert or replace the row with this key (a new serial row gets a provisional key)."""
        if self.serial is not None and row.get(self.serial) is None:
            row = row | {self.serial: -next(_new_rows)}
        key = self.key_of(row)
        old = self.rows.get(key)
        if old is not None and self.student and old[self.student] != row[self.student]:
            self._by_student.get(old[self.student], set()).discard(key)
            self._sorted.pop(old[self.student], None)
        self._remember(key, row)
        self._changed.add(key)
        self._deleted.discard(key)
        return row

    def update(self, row: Row, **changes: Any) -> Row:
        return self.put(row | changes)

    def delete(self, *key: Any) -> None:
        row = self.rows.pop(tuple(key), None)
        if row is None:
            return
        self._unindex(tuple(key), row)
        if self.student:
            self._by_student.get(row[self.student], set()).discard(tuple(key))
            self._sorted.pop(row[self.student], None)
        self._changed.discard(tuple(key))
        if tuple(key) in self._loaded:
            self._deleted.add(tuple(key))

    def _remember(self, key: Key, row: Row) -> None:
        old = self.rows.get(key)
        if old is not None:
            self._unindex(key, old)
        self.rows[key] = row
        for column, index in self._indexes.items():
            index.setdefault(row.get(column), set()).add(key)
        if self.student:
            keys = self._by_student.setdefault(row[self.student], set())
            if key not in keys:
                keys.add(key)
                self._sorted.pop(row[self.student], None)

    def _unindex(self, key: Key, row: Row) -> None:
        for column, index in self._indexes.items():
            keys = index.get(row.get(column))
            if keys is not None:
                keys.discard(key)

    # --- save -------------------------------------------------------------------------
    def pending_changes(self) -> int:
        return len(self._changed) + len(self._deleted)

    async def save(self, conn: Any) -> None:
        """At most two statements: one delete, one upsert (or insert)."""
        if self._deleted:
            keys = [
                dict(zip(self.key, k, strict=True)) for k in sorted(self._deleted, key=_sortable)
            ]
            match = " AND ".join(f"t.{c} = d.{c}" for c in self.key)
            await conn.execute(
                f"DELETE FROM {self.name} t USING jsonb_populate_recordset(null::{self.name},"
                f" $1::jsonb) d WHERE {match}",
                rows_json(keys),
            )
        changed = [self.rows[k] for k in sorted(self._changed, key=_sortable) if k in self.rows]
        if changed:
            await self._upsert(conn, changed)
        self._loaded |= self._changed
        self._loaded -= self._deleted
        self._changed.clear()
        self._deleted.clear()

    async def _upsert(self, conn: Any, rows: list[Row]) -> None:
        serial = self.serial
        new = [r for r in rows if serial and r[serial] < 0]
        old = [r for r in rows if not (serial and r[serial] < 0)]
        if serial and new:
            # In the order they were made (provisional keys -1, -2, …), which the keys' text
            # order is not ("-10" < "-9"): the database's serial then follows the events,
            # and held submissions are released in the order they arrived.
            new.sort(key=lambda r: -r[serial])
            columns = [c for c in _columns(new) if c != serial]
            await self._insert(conn, [{c: r[c] for c in columns} for r in new], columns, "")
        if old:
            columns = _columns(old)
            conflict = ""
            if not self.append_only:
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in self.key)
                conflict = f" ON CONFLICT ({', '.join(self.key)}) DO " + (
                    f"UPDATE SET {updates}" if updates else "NOTHING"
                )
            else:
                conflict = " ON CONFLICT DO NOTHING"
            await self._insert(conn, old, columns, conflict)

    async def _insert(self, conn: Any, rows: list[Row], columns: list[str], conflict: str) -> None:
        names = ", ".join(columns)
        # WITH ORDINALITY keeps the batch's order, so serial ids follow the order of events.
        await conn.execute(
            f"INSERT INTO {self.name} ({names}) SELECT {names}"
            f" FROM jsonb_populate_recordset(null::{self.name}, $1::jsonb)"
            f" WITH ORDINALITY AS r ORDER BY ordinality{conflict}",
            rows_json(rows),
        )


async def load_students(
    conn: Any, tables: list[Table], students: list[str], catalog: Catalog
) -> None:
    """The students' rows of every table, in one round trip (`catalog` must know the
    tables). At the small batches of a steady flow a round trip per table was most of a
    batch's cost (certificates loads fourteen tables).

    Each column comes back as one array (`array_agg`), which asyncpg decodes with the
    column's own type (a date stays a date, a number exact), as `SELECT *` gives them; at
    400 students of 15 rows each that costs PostgreSQL and Python less than `SELECT *`
    did. Not an array of the table's row type: PostgreSQL sends one of those 5 times
    slower. A table with an array column sends its rows whole even so (columns.py)."""
    if not students or not tables:
        return
    subqueries = []
    for i, table in enumerate(tables):
        columns = catalog[table.name]
        values = (
            [f"array_agg(t) AS c{i}"]
            if columns.has_array
            else [f"array_agg(t.{_quoted(c)}) AS c{i}_{j}" for j, c in enumerate(columns.names)]
        )
        subqueries.append(
            f"(SELECT {', '.join(values)} FROM {table.name} t"
            f" WHERE t.{table.student} = ANY($1::text[])) t{i}"
        )
    # CROSS JOIN, not a comma list: past 12 items (geqo_threshold) PostgreSQL plans a comma
    # list with its genetic optimizer, 8–12 ms for certificates' 14 tables, on every batch
    # that keeps a custom plan; explicit joins are planned in groups of join_collapse_limit.
    found = await conn.fetchrow(f"SELECT * FROM {' CROSS JOIN '.join(subqueries)}", students)
    at = 0
    for table in tables:
        columns = catalog[table.name]
        if columns.has_array:
            table.accept(found[at] or ())
            at += 1
            continue
        arrays = [found[at + j] for j in range(len(columns.names))]
        at += len(columns.names)
        if arrays[0] is not None:  # no row: every aggregate is NULL
            table.accept(
                dict(zip(columns.names, values, strict=True))
                for values in zip(*arrays, strict=True)
            )


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sortable(key: Key) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in key)


def _columns(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(c for r in rows for c in r))
