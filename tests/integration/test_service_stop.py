"""A service's stop is bounded: whatever hangs (here a database connection never given back),
it returns within `stop_timeout_seconds` and closes what it holds, so a deployment's rollout
or a supervisor's shutdown never waits forever."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from sanzheng_enrollment.app import SPEC as ENROLLMENT


async def test_stop_returns_in_time_and_closes_a_connection_never_given_back(start_service):
    runtime = await start_service(ENROLLMENT, stop_timeout_seconds=2)
    held = asyncio.Event()
    released = asyncio.Event()

    async def hold_a_connection() -> None:
        async with runtime.pool.acquire() as conn:
            held.set()
            await released.wait()  # never set: a handler stuck in its own wait
            await conn.fetchval("SELECT 1")

    holder = asyncio.create_task(hold_a_connection())
    await asyncio.wait_for(held.wait(), 30)

    started = time.monotonic()
    # pool.close() alone waits for every connection to be released: without the bound this
    # stop would never return (the guard turns that into a failure, not a hung test run).
    await asyncio.wait_for(runtime.stop(), 60)
    assert time.monotonic() - started < 30
    assert runtime.pool._closed

    released.set()
    with pytest.raises((asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError)):
        await asyncio.wait_for(holder, 30)
