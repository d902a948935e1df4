"""asyncpg pools scoped to one service's schema, and what counts as a transient database error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg


class DatabaseUnavailable(Exception):
    """No connection could be had: whatever the server said, it is worth waiting for."""


STALE_CACHE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.InvalidCachedStatementError,
    asyncpg.exceptions.OutdatedSchemaCacheError,
)
"""A statement or a row type asyncpg had cached was changed by a migration: asyncpg
prepares it afresh on the next try."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    *STALE_CACHE_ERRORS,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 5) -> Any:
    """A pool whose connections see `schema` first, so service SQL never names its schema."""
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        # JIT off: a batch's statements are short, and a large batch's estimated cost
        # could cross jit_above_cost and pay for a compilation on every batch.
        server_settings={
            "search_path": f"{schema},public",
            "application_name": schema,
            "jit": "off",
        },
        reset=_reset,
    )


async def _reset(conn: Any) -> None:
    """Nothing, before a connection goes back to the pool. asyncpg always rolls back a
    transaction left open and drops listener callbacks first; its default reset would then
    also unlock advisory locks, close cursors, unlisten and reset settings: a round trip on
    every release, several per batch. Nothing here leaves those behind on a released
    connection (locks and settings are the transaction's, cursors live in one; the outbox
    relay's listening connection, which holds a session lock, resets itself)."""


@asynccontextmanager
async def connection(pool: Any) -> AsyncIterator[Any]:
    """`pool.acquire()`, where failing to get a connection at all is always transient
    (a database that refuses connections, restarts or is unreachable comes back)."""
    try:
        conn = await pool.acquire()
    except Exception as exc:
        raise DatabaseUnavailable(repr(exc)) from exc
    try:
        yield conn
    finally:
        await pool.release(conn)
