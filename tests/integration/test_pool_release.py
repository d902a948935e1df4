"""What a connection carries back to the pool (db/pool.py resets only what is left open)."""

from __future__ import annotations

from sanzheng_shared.db.pool import create_pool


async def test_a_transaction_left_open_is_rolled_back_when_its_connection_is_released(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, "public", min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE notes (n int)")
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")  # an interrupted block, never committed
            await conn.execute("INSERT INTO notes VALUES (1)")
        async with pool.acquire() as conn:  # the same, single connection
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM notes") == 0
            await conn.execute("INSERT INTO notes VALUES (2)")  # usable as ever
            assert await conn.fetchval("SELECT count(*) FROM notes") == 1
    finally:
        await pool.close()
