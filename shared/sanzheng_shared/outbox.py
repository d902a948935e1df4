"""The transactional outbox: emitted messages are rows written with the projection change.

One relay per service (a session advisory lock elects it) publishes the rows in `seq` order:

- no transaction stays open while it waits for the broker: the rows are read in one
  statement, sent, and the acknowledged rows are deleted in another (counted per topic in
  `outbox_published`). A crash in between only re-sends, and consumers de-duplicate by
  (source, id);
- per-key order survives a partial failure: the relay builds the record batches itself
  and keeps at most one in flight per partition. When a batch fails, nothing after it on
  that partition has been sent, so the next round sends e1, e2 again, never e2 before e1;
- a row the broker refuses (too large, unknown topic, invalid record) is retried a few
  rounds, then *parked* with the reason, a metric and a log line. The rows after it go on,
  except those with its (topic, key): they wait behind it until it is un-parked.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    ProducerClosed,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from sanzheng_shared import failpoints
from sanzheng_shared.db.pool import connection, is_transient
from sanzheng_shared.events.envelope import CONTENT_TYPE, CloudEvent
from sanzheng_shared.kafka.topics import DLQ_MAX_MESSAGE_BYTES
from sanzheng_shared.logging import get_logger
from sanzheng_shared.metrics import (
    OUTBOX_FAILURES,
    OUTBOX_PARKED,
    OUTBOX_PARKED_TOTAL,
    OUTBOX_PENDING,
    OUTBOX_PUBLISHED,
)

log = get_logger(__name__)

Header = tuple[str, bytes | None]
Headers = tuple[Header, ...]

# An inbound message may be up to the broker's 1 MiB; dead-lettered, it gains a few headers.
# DLQ topics accept 2 MiB, so the relay's requests may be as large.
MAX_REQUEST_BYTES = DLQ_MAX_MESSAGE_BYTES
BATCH_BYTES = 256 * 1024
MAX_ATTEMPTS = 5
METADATA_MAX_AGE_SECONDS = 1.0
# What the broker acknowledged leaves the outbox, counted per topic in the same statement
# (migration 005_outbox_published: marking a row published wrote the whole message again).
FORGET_PUBLISHED = (
    "WITH gone AS (DELETE FROM outbox WHERE seq = ANY($1::bigint[]) RETURNING topic, created_at)"
    " INSERT INTO outbox_published AS p (topic, messages, last_created_at)"
    " SELECT topic, count(*), max(created_at) FROM gone GROUP BY topic"
    " ON CONFLICT (topic) DO UPDATE SET messages = p.messages + excluded.messages,"
    " last_created_at = greatest(p.last_created_at, excluded.last_created_at)"
)


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


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _encode_headers(headers: Iterable[Header]) -> str:
    """JSON that jsonb accepts whatever the header holds: the key and the value in base64
    (a NUL in a key would be refused as text), a null value as null."""
    return json.dumps(
        [
            {"k": _b64(k.encode("utf-8", "surrogateescape")), "v": None if v is None else _b64(v)}
            for k, v in headers
        ]
    )


def _decode_headers(raw: str | list[Any]) -> list[Header]:
    if isinstance(raw, str):
        # Most rows carry the same headers (the content type): decoded once per process.
        return list(_decode_cached(raw))
    return _decode_header_items(raw)


@functools.lru_cache(maxsize=64)
def _decode_cached(raw: str) -> tuple[Header, ...]:
    return tuple(_decode_header_items(json.loads(raw)))


def _decode_header_items(items: list[Any]) -> list[Header]:
    out: list[Header] = []
    for item in items:
        if isinstance(item, dict):
            key = base64.b64decode(item["k"]).decode("utf-8", "surrogateescape")
            out.append((key, None if item["v"] is None else base64.b64decode(item["v"])))
        else:  # rows written before keys were encoded: [key, base64 value]
            out.append((item[0], base64.b64decode(item[1])))
    return out


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
        [encoded(m.headers) for m in messages],
    )
    await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))


def encoded(headers: Iterable[Header]) -> str:
    """Most rows carry the same headers (the content type): encoded once per process."""
    try:
        return _encode_cached(tuple(headers))
    except TypeError:  # a header value that cannot be hashed: encode it on its own
        return _encode_headers(headers)


@functools.lru_cache(maxsize=64)
def _encode_cached(headers: tuple[Header, ...]) -> str:
    return _encode_headers(headers)


@dataclass
class _Row:
    seq: int
    topic: str
    key: bytes | None
    value: bytes
    headers: list[Header]
    attempts: int

    @property
    def ordering_key(self) -> tuple[str, bytes] | None:
        """Rows sharing it keep their order; a row without a key orders nothing."""
        return None if self.key is None else (self.topic, self.key)


class RoundIncomplete(Exception):
    """Some rows were neither published nor parked in this round: back off, then retry."""


def _refused(exc: BaseException) -> bool:
    """The broker (or the client) refuses this record: retrying will not help by itself.
    Otherwise (no leader, timeout, connection lost) the broker is away and will be back."""
    if isinstance(exc, KafkaTimeoutError | KafkaConnectionError | ProducerClosed):
        return False
    return isinstance(exc, KafkaError) and not exc.retriable


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
        max_attempts: int = MAX_ATTEMPTS,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.service = service
        self.schema = schema
        self.pool = pool
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.max_request_bytes = max_request_bytes
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks=acks if acks == "all" else int(acks),
            max_request_size=max_request_bytes,
            max_batch_size=BATCH_BYTES,
            # No idempotence (Tansu has none): order comes from one batch in flight per
            # partition, which this relay enforces itself (see _send_partition).
            enable_idempotence=False,
        )
        self._partitioner = DefaultPartitioner()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listen_conn: Any = None
        self._elected = False
        self._reported_at = 0.0
        self._metadata_at = -math.inf
        self._metadata_connections: tuple[Any, ...] = ()

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
        self._elected = False
        self._listen_conn = await self.pool.acquire()
        await self._listen_conn.add_listener(notify_channel(self.schema), self._on_notify)

    async def _elect(self) -> bool:
        """One relay per schema: a session lock held on the listening connection, so it
        lasts as long as that connection (and no transaction has to stay open for it)."""
        await self._listen()
        if not self._elected:
            self._elected = await self._listen_conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))", f"outbox:{self.schema}"
            )
        return bool(self._elected)

    async def _unlisten(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        elected, self._elected = self._elected, False
        if conn is None:
            return
        try:
            await conn.remove_listener(notify_channel(self.schema), self._on_notify)
            if elected:
                await conn.execute("SELECT pg_advisory_unlock_all()")
            await conn.reset()  # the pool's own reset does not (db/pool.py)
        except Exception:
            # Gone already (and its lock with it; the pool may have taken it back), or in a
            # state we cannot tell: closed, so that no pooled connection keeps the lock.
            with contextlib.suppress(Exception):
                if not conn.is_closed():
                    conn.terminate()
        await self.pool.release(conn)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                published = await self.publish_once()
                failures = 0
            except Exception as exc:
                self._metadata_at = -math.inf
                if not isinstance(exc, RoundIncomplete):  # that one is logged per partition
                    if not is_transient(exc) and not isinstance(exc, KafkaError):
                        log.exception("outbox_relay_error", error=str(exc))
                    await self._unlisten()
                failures += 1
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
        """One round: returns how many rows were published; raises RoundIncomplete when some
        rows must be retried later (they were not sent past, so nothing is reordered)."""
        if not await self._elect():
            return 0
        rows = await self._fetch()
        if not rows:
            await self._report_backlog()
            return 0
        by_partition: dict[tuple[str, int], list[_Row]] = {}
        failed: list[BaseException] = []
        await self._refresh_metadata()
        by_topic: dict[str, list[_Row]] = {}
        for row in rows:
            by_topic.setdefault(row.topic, []).append(row)
        for topic, of_topic in by_topic.items():
            partitions = await self._partitions(topic)
            if partitions is None:
                error = f"topic {topic!r} does not exist"
                failed.append(KafkaError(error))
                await self._refused(self._heads(of_topic), error)
                continue
            # A key's partition (murmur2, in Python) once per round: a student's rows share it.
            of_key: dict[bytes, int] = {}
            for row in of_topic:
                if row.key is None:
                    p = self._partitioner(row.key, partitions, partitions)
                elif (p := of_key.get(row.key, -1)) < 0:
                    p = of_key[row.key] = self._partitioner(row.key, partitions, partitions)
                by_partition.setdefault((topic, p), []).append(row)
        results = await asyncio.gather(
            *(self._send_partition(t, p, rs) for (t, p), rs in by_partition.items()),
            return_exceptions=True,
        )
        sent: list[int] = []
        for result in results:
            if isinstance(result, BaseException):
                failed.append(result)
            else:
                sent += result[0]
                failed += result[1]
        if sent:
            # Deleted once per round, not per partition (a round trip each): a crash before
            # this line sends the round again, and the consumers drop what they already have.
            async with connection(self.pool) as conn:
                await conn.execute(FORGET_PUBLISHED, sent)
        published = len(sent)
        if time.monotonic() - self._reported_at >= 1.0:
            # A gauge: under load once a second is enough, and the empty round that
            # follows any burst reports the exact figure.
            await self._report_backlog()
        if failed:
            self._metadata_at = -math.inf  # the next round asks the broker again
            not_kafka = [e for e in failed if not isinstance(e, KafkaError)]
            if not_kafka:
                raise not_kafka[0]
            raise RoundIncomplete(f"{len(failed)} send(s) failed, first: {failed[0]!r}")
        return published

    async def _refresh_metadata(self) -> None:
        """Partitions as the broker has them, not as cached: an in-memory broker that
        restarted empty may have a topic back with fewer partitions, and Tansu acknowledges
        a send to one that no longer exists (nobody can ever read it).

        Asked again when the broker may have restarted since the last answer (a connection
        of the producer's is new or broken: a restart breaks them all), after a round
        that failed, and otherwise once a second. Once per round was a metadata request
        (2 ms of the service's CPU, and the broker's) for every small batch."""
        client = self._producer.client
        held = getattr(client, "_conns", None)
        connections = tuple(held.values()) if isinstance(held, dict) else ()
        same = (
            held is not None
            and time.monotonic() - self._metadata_at < METADATA_MAX_AGE_SECONDS
            and len(connections) == len(self._metadata_connections)
            and all(any(c is k for k in self._metadata_connections) for c in connections)
            and all(c.connected() for c in connections)
        )
        if same:
            return
        if not await client.force_metadata_update():
            return  # not answered: asked again next round
        # The connections themselves are kept (not their ids, which a new one could reuse).
        self._metadata_connections = tuple(held.values()) if isinstance(held, dict) else ()
        self._metadata_at = time.monotonic()

    async def _fetch(self) -> list[_Row]:
        """The next rows in order, without the parked ones and those waiting behind them."""
        async with connection(self.pool) as conn:
            rows = await conn.fetch(
                "SELECT seq, topic, key, value, headers, attempts FROM outbox o"
                " WHERE parked_at IS NULL AND NOT EXISTS ("
                "   SELECT 1 FROM outbox p WHERE p.parked_at IS NOT NULL"
                "   AND p.topic = o.topic AND p.key = o.key AND p.seq < o.seq)"
                " ORDER BY seq LIMIT $1",
                self.batch,
            )
        return [
            _Row(
                r["seq"],
                r["topic"],
                r["key"],
                r["value"],
                _decode_headers(r["headers"]),
                r["attempts"],
            )
            for r in rows
        ]

    async def _partitions(self, topic: str) -> list[int] | None:
        """The topic's partitions, or None when the broker does not know the topic. Bounded
        by one metadata request, not by the producer's 40 s wait for a topic to appear."""
        client = self._producer.client
        partitions = client.cluster.partitions_for_topic(topic)
        if partitions is None:
            await client.add_topic(topic)
            partitions = client.cluster.partitions_for_topic(topic)
        if partitions is None:
            await client.force_metadata_update()
            partitions = client.cluster.partitions_for_topic(topic)
        return None if partitions is None else sorted(partitions)

    @staticmethod
    def _heads(rows: Iterable[_Row]) -> list[_Row]:
        """The first row of each key (the others wait behind it), and every keyless row."""
        seen: set[tuple[str, bytes]] = set()
        heads = []
        for row in rows:
            key = row.ordering_key
            if key is None or key not in seen:
                heads.append(row)
            if key is not None:
                seen.add(key)
        return heads

    async def _send_partition(
        self, topic: str, partition: int, rows: list[_Row]
    ) -> tuple[list[int], list[BaseException]]:
        """Send one partition's rows in order, one batch in flight at a time. A batch the
        broker refuses is re-sent one row at a time to find the row at fault; a batch that
        fails otherwise stops the partition for this round, with nothing sent after it.
        Returns the `seq` of every row the broker acknowledged, and the failures."""
        published: list[int] = []
        failed: list[BaseException] = []
        blocked: set[tuple[str, bytes]] = set()
        one_by_one = False
        queue = list(rows)
        while queue:
            batch = self._producer.create_batch()
            taken: list[_Row] = []
            rest: list[_Row] = []
            for row in queue:
                if row.ordering_key in blocked:
                    continue  # waits behind a row of its key that was not published
                if rest or (one_by_one and taken):
                    rest.append(row)
                    continue
                size = DefaultRecordBatchBuilder.estimate_size_in_bytes(
                    row.key, row.value, row.headers
                )
                if size > self.max_request_bytes:
                    reason = f"message of {size} bytes exceeds the limit of "
                    reason += f"{self.max_request_bytes} bytes per request"
                    await self._park(row, reason)
                    if row.ordering_key is not None:
                        blocked.add(row.ordering_key)
                    continue
                if batch.append(key=row.key, value=row.value, timestamp=None, headers=row.headers):
                    taken.append(row)
                else:
                    rest.append(row)  # the batch is full: the next one starts here
            queue = rest
            if not taken:
                continue
            try:
                delivered = await self._producer.send_batch(batch, topic, partition=partition)
                await delivered
                failpoints.reach("relay_mid_round")  # sent, not yet marked published
            except Exception as exc:
                failed.append(exc)
                if not _refused(exc):
                    OUTBOX_FAILURES.labels(self.service, "retriable").inc()
                    log.warning(
                        "outbox_partition_waits",
                        topic=topic,
                        partition=partition,
                        first_seq=taken[0].seq,
                        error=repr(exc),
                    )
                    return published, failed
                OUTBOX_FAILURES.labels(self.service, "refused").inc()
                if len(taken) > 1:
                    one_by_one = True  # find the row at fault; nothing of this batch landed
                    queue = taken + queue
                    continue
                [row] = taken
                await self._refused([row], repr(exc))
                if row.ordering_key is not None:
                    blocked.add(row.ordering_key)
                continue
            published += [r.seq for r in taken]
            OUTBOX_PUBLISHED.labels(self.service, topic).inc(len(taken))
        return published, failed

    async def _refused(self, rows: list[_Row], error: str) -> None:
        """Count an attempt for each row; park those that have had all of theirs."""
        for row in rows:
            if row.attempts + 1 >= self.max_attempts:
                await self._park(row, f"after {row.attempts + 1} attempts: {error}")
                continue
            async with connection(self.pool) as conn:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1",
                    row.seq,
                    error[:1000],
                )
            log.warning("outbox_row_refused", seq=row.seq, topic=row.topic, error=error)

    async def _park(self, row: _Row, reason: str) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                "UPDATE outbox SET parked_at = now(), attempts = attempts + 1, last_error = $2"
                " WHERE seq = $1",
                row.seq,
                reason[:1000],
            )
        OUTBOX_PARKED_TOTAL.labels(self.service, row.topic).inc()
        log.error(
            "outbox_row_parked",
            seq=row.seq,
            topic=row.topic,
            key=None if row.key is None else row.key.decode(errors="replace"),
            reason=reason,
            action="rows with its key wait behind it; `sanzheng outbox unpark` retries it",
        )

    async def _report_backlog(self) -> None:
        self._reported_at = time.monotonic()
        async with connection(self.pool) as conn:
            # Each count matches one partial index (migration 005_outbox_published).
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM outbox WHERE parked_at IS NULL) AS pending,"
                " (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL) AS parked"
            )
        OUTBOX_PENDING.labels(self.service).set(row["pending"])
        OUTBOX_PARKED.labels(self.service).set(row["parked"])


async def parked_rows(conn: Any) -> list[Any]:
    """The parked rows of the connection's schema, oldest first, and how many wait behind."""
    return list(
        await conn.fetch(
            "SELECT p.seq, p.topic, p.key, p.attempts, p.last_error, p.parked_at,"
            " (SELECT count(*) FROM outbox w WHERE w.topic = p.topic"
            "  AND w.key = p.key AND w.seq > p.seq) AS waiting"
            " FROM outbox p WHERE p.parked_at IS NOT NULL"
            " ORDER BY p.seq"
        )
    )


async def unpark(conn: Any, schema: str, seqs: Sequence[int] | None = None) -> int:
    """Give parked rows (all when `seqs` is None) their attempts again, after a fix."""
    status = await conn.execute(
        "UPDATE outbox SET parked_at = NULL, attempts = 0 WHERE parked_at IS NOT NULL"
        " AND ($1::bigint[] IS NULL OR seq = ANY($1::bigint[]))",
        None if seqs is None else list(seqs),
    )
    await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))
    return int(status.split()[-1])
