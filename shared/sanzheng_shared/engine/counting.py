"""A connection that counts the statements it sends: per batch, the count is a constant
(tested), and `sanzheng_db_statements_total` shows it in production."""

from __future__ import annotations

from typing import Any


class CountingConnection:
    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements = 0

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self._conn.execute(*args, **kwargs)

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self._conn.fetch(*args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self._conn.fetchrow(*args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self._conn.fetchval(*args, **kwargs)

    def transaction(self, **kwargs: Any) -> Any:
        return self._conn.transaction(**kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return self._conn.cursor(*args, **kwargs)
