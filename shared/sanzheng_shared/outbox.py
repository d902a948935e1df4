"""The transactional outbox: emitted messages are rows written with the projection change.

One relay per service (an advisory lock elects it) publishes rows in `seq` order, awaits
the broker's acks, then marks them published. A NOTIFY in the writing transaction wakes
the relay; a slow poll is the fallback. Downstream consumers de-duplicate by event id, so
a crash between the publish and the mark only re-sends.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer

from sanzheng_shared.db.pool import connection, is_transient
from sanzheng_shared.events.envelope import CONTENT_TYPE, CloudEvent
from sanzheng_shared.logging import get_logger
from sanzheng_shared.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

log = get_logger(__name__)

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class OutboxMessage:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = field(default=())

    @classmethod
    def of_event(cls, topic: str, event: CloudEvent) -> OutboxMessage:
        key = event.subject.encode() if event.subject else None
        return cls(topic, key, event.to_json_bytes(), (("content-type", CONTENT_TYPE.encode()),))


def notify_channel(schema: str) -> str:
    return f"outbox_{schema}"


def _encode_headers(headers: Headers) -> str:
    return json.dumps([[k, base64.b64encode(v).decode()] for k, v in headers])


def _decode_headers(raw: str | list[Any]) -> list[tuple[str, bytes]]:
    items = json.loads(raw) if isinstance(raw, str) else raw
    return [(k, base64.b64decode(v)) for k, v in items]


async def write_outbox(conn: Any, schema: str, messages: Sequence[OutboxMessage]) -> None:
    if not messages:
        return
    await conn.execute(
        "INSERT INTO outbox (topic, key, value, headers)"
        " SELECT t, k, v, h::jsonb FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[])"
        " WITH ORDINALITY AS m(t, k, v, h, n) ORDER BY n",
        [m.topic for m in messages],
        [m.key for m in messages],
        [m.value for m in messages],
        [_encode_headers(m.headers) for m in messages],
    )
    await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        schema: str,
        pool: Any,
        bootstrap: str,
        acks: str = "all",
        batch: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self.service = service
        self.schema = schema
        self.pool = pool
        self.batch = batch
        self.poll_seconds = poll_seconds
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks=acks if acks == "all" else int(acks),
            linger_ms=5,
            # Ordering per key: one request in flight per partition; no idempotence (Tansu).
            enable_idempotence=False,
        )
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listen_conn: Any = None
        self._publishes = 0

    async def start(self) -> None:
        await self._producer.start()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        """Publish what is left, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._producer.stop()

    def _on_notify(self, *_args: Any) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        if self._listen_conn is not None and not self._listen_conn.is_closed():
            return
        self._listen_conn = await self.pool.acquire()
        await self._listen_conn.add_listener(notify_channel(self.schema), self._on_notify)

    async def _unlisten(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        if conn is None:
            return
        try:
            await conn.remove_listener(notify_channel(self.schema), self._on_notify)
        except Exception:
            pass  # the connection is gone already; releasing it is enough
        await self.pool.release(conn)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen()
                published = await self.publish_once()
                failures = 0
            except Exception as exc:
                if not is_transient(exc) and not _is_kafka_error(exc):
                    log.exception("outbox_relay_error", error=str(exc))
                failures += 1
                await self._unlisten()
                delay = min(1.0 if self._stopping else 30.0, 0.2 * 2**failures)
                log.warning("outbox_relay_retry", error=repr(exc), retry_in_s=delay)
                if self._stopping and failures > 5:
                    log.error("outbox_relay_gave_up_at_stop", pending="left for next start")
                    break
                await asyncio.sleep(delay)
                continue
            if published >= self.batch:
                continue
            if self._stopping:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass
        await self._unlisten()

    async def publish_once(self) -> int:
        async with connection(self.pool) as conn, conn.transaction():
            elected = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1))", f"outbox:{self.schema}"
            )
            if not elected:
                return 0
            rows = await conn.fetch(
                "SELECT seq, topic, key, value, headers FROM outbox"
                " WHERE published_at IS NULL ORDER BY seq LIMIT $1",
                self.batch,
            )
            if not rows:
                OUTBOX_PENDING.labels(self.service).set(0)
                return 0
            futures = [
                await self._producer.send(
                    r["topic"],
                    value=r["value"],
                    key=r["key"],
                    headers=_decode_headers(r["headers"]),
                )
                for r in rows
            ]
            await asyncio.gather(*futures)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                [r["seq"] for r in rows],
            )
            self._publishes += 1
            if self._publishes % 200 == 0:
                # Published rows are kept for a day for operators, then dropped.
                await conn.execute(
                    "DELETE FROM outbox WHERE published_at < now() - interval '1 day'"
                )
        for r in rows:
            OUTBOX_PUBLISHED.labels(self.service, r["topic"]).inc()
        return len(rows)


def _is_kafka_error(exc: BaseException) -> bool:
    from aiokafka.errors import KafkaError

    return isinstance(exc, KafkaError)
