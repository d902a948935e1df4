"""A batch's writes, gathered into few round trips (engine/writes.py), against the real
database: what lands is what separate statements would have written, in their order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from sanzheng_shared.engine.counting import CountingConnection
from sanzheng_shared.engine.writes import GatheredWrites
from sanzheng_shared.outbox import OutboxMessage, write_outbox


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(database_url)
    await connection.execute(
        "CREATE TABLE certs (seq int PRIMARY KEY, number text UNIQUE);"
        "CREATE TABLE log (n int);"
        "CREATE TABLE outbox (seq bigserial PRIMARY KEY, topic text, key bytea, value bytea,"
        " headers jsonb)"
    )
    try:
        yield connection
    finally:
        await connection.close()


async def test_writes_to_different_tables_take_one_round_trip_and_all_land(
    conn: Any, database_url: str
) -> None:
    listener = await asyncpg.connect(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("outbox_s", lambda *a: heard.put_nowait(a[2]))
    try:
        writes = GatheredWrites()
        await writes.execute("INSERT INTO certs VALUES ($1, $2)", 1, "Q-1")
        await writes.execute("INSERT INTO log SELECT unnest($1::int[])", [7, 8])
        await write_outbox(writes, "s", [OutboxMessage("t", b"k", b"v", [])])
        counting = CountingConnection(conn)
        async with conn.transaction():
            await writes.send(counting)
        assert counting.statements == 1
        assert await conn.fetchval("SELECT number FROM certs WHERE seq = 1") == "Q-1"
        assert await conn.fetchval("SELECT array_agg(n ORDER BY n) FROM log") == [7, 8]
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 't'") == 1
        await asyncio.wait_for(heard.get(), 5)  # the relay is woken, as before
    finally:
        await listener.close()


async def test_a_delete_then_an_insert_taking_the_freed_number_keep_their_order(
    conn: Any,
) -> None:
    # Run as one statement, the insert could check the unique number before the delete
    # ran: the second statement on one table starts a new round trip instead.
    await conn.execute("INSERT INTO certs VALUES (1, 'Q-1')")
    writes = GatheredWrites()
    await writes.execute("DELETE FROM certs t WHERE t.seq = $1", 1)
    await writes.execute("INSERT INTO certs VALUES ($1, $2)", 2, "Q-1")
    await writes.execute("INSERT INTO log VALUES ($1)", 1)
    counting = CountingConnection(conn)
    async with conn.transaction():
        await writes.send(counting)
    assert counting.statements == 2
    assert await conn.fetch("SELECT seq, number FROM certs") == [(2, "Q-1")]
    assert await conn.fetchval("SELECT count(*) FROM log") == 1


async def test_a_refused_write_fails_the_whole_batch(conn: Any) -> None:
    await conn.execute("INSERT INTO certs VALUES (1, 'Q-1')")
    writes = GatheredWrites()
    await writes.execute("INSERT INTO log VALUES ($1)", 1)
    await writes.execute("INSERT INTO certs VALUES ($1, $2)", 3, "Q-1")  # number taken
    with pytest.raises(asyncpg.UniqueViolationError):
        async with conn.transaction():
            await writes.send(conn)
    assert await conn.fetchval("SELECT count(*) FROM log") == 0
