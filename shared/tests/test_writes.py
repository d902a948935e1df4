"""How a batch's writes are joined into statements (engine/writes.py), without a database;
tests/integration/test_gathered_writes.py runs them against PostgreSQL."""

from __future__ import annotations

from sanzheng_shared.engine.writes import combined


def test_writes_to_different_tables_and_the_notification_become_one_statement() -> None:
    [(sql, args)] = combined(
        [
            ("INSERT INTO a (x) SELECT unnest($1::int[])", ([1],)),
            ("DELETE FROM b t WHERE t.k = $1 AND t.v = $2", ("k", 2)),
            ("SELECT pg_notify($1, '')", ("outbox_s",)),
        ]
    )
    assert sql == (
        "WITH w0 AS (INSERT INTO a (x) SELECT unnest($1::int[])),"
        " w1 AS (DELETE FROM b t WHERE t.k = $2 AND t.v = $3)"
        " SELECT pg_notify($4, '')"
    )
    assert args == ([1], "k", 2, "outbox_s")


def test_a_second_write_to_a_table_starts_the_next_statement_in_order() -> None:
    out = combined(
        [
            ("DELETE FROM pending t WHERE t.seq = $1", (1,)),
            ("INSERT INTO log VALUES ($1)", (7,)),
            ('INSERT INTO "PENDING" VALUES ($1)', (2,)),  # the same table, quoted
            ("INSERT INTO s.log VALUES ($1)", (8,)),  # and the same, qualified
        ]
    )
    assert [sql for sql, _ in out] == [
        "WITH w0 AS (DELETE FROM pending t WHERE t.seq = $1),"
        " w1 AS (INSERT INTO log VALUES ($2)) SELECT 1",
        'WITH w0 AS (INSERT INTO "PENDING" VALUES ($1)),'
        " w1 AS (INSERT INTO s.log VALUES ($2)) SELECT 1",
    ]
    assert [args for _, args in out] == [(1, 7), (2, 8)]


def test_a_statement_that_is_neither_a_write_nor_a_notification_goes_alone() -> None:
    reading = ("SELECT count(*) FROM log WHERE n = $1", (1,))
    first, last = ("INSERT INTO a VALUES ($1)", (1,)), ("INSERT INTO b VALUES ($1)", (2,))
    assert combined([first, reading, last]) == [first, reading, last]
