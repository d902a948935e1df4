"""Is the broker there? One probe per process answers, and three things use its answer:

- readiness: `/readyz` is false once the broker has been unreachable for longer than
  `SANZHENG_BROKER_UNREACHABLE_SECONDS` (liveness never asks);
- the logs: while the broker is away, aiokafka repeats "Unable connect to node…" dozens of
  times a second. `BrokerOutageLog` (a logging filter on the one stdout handler *and* a
  structlog processor, so our own lines too) lets the first connection error through, then
  one summary every 30 s ("broker unreachable for 60 s, 1,200 attempts"), then one line
  when the probe reaches the broker again. Per process and outage that is at most
  2 + ceil(seconds / 30) lines about the connection;
- the gateway: the cluster id the probe sees changes when the embedded broker restarted
  empty (it gets a fresh id at every start), and the gateway then re-publishes what it
  accepted over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient

SUMMARY_EVERY_SECONDS = 30.0
PROBE_EVERY_SECONDS = 1.0

# What aiokafka (and our relay, in its `error` field) says when the broker cannot be reached.
_CONNECTION_ERRORS = (
    "Unable connect to node",
    "Unable to update metadata",
    "Unable to request metadata",
    "Connect call failed",
    "KafkaConnectionError",
    "NodeNotReadyError",
    "Coordinator Request failed",
    "Marking the coordinator dead",
    "Heartbeat session expired",
    "broker_unreachable",
)

_summary_log = logging.getLogger("sanzheng.broker")


def is_connection_error(text: str) -> bool:
    return any(marker in text for marker in _CONNECTION_ERRORS)


class BrokerOutageLog:
    """Turns a flood of connection errors into: the first one, a summary each 30 s, the
    recovery. `clock` is injectable for tests."""

    def __init__(
        self,
        summary_every: float = SUMMARY_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.summary_every = summary_every
        self.clock = clock
        self.since: float | None = None
        self.attempts = 0
        self._last_summary = 0.0

    def observe(self, text: str) -> str | None:
        """For one log line: None to let it through unchanged, "" to drop it, or the text
        of the summary that replaces it."""
        if not is_connection_error(text):
            return None
        now = self.clock()
        if self.since is None:
            self.since, self.attempts, self._last_summary = now, 1, now
            return None
        self.attempts += 1
        if now - self._last_summary < self.summary_every:
            return ""
        self._last_summary = now
        return (
            f"broker unreachable for {now - self.since:.0f} s, {self.attempts:,} attempts"
            f" (connection errors are summarised every {self.summary_every:.0f} s)"
        )

    def recovered(self) -> str | None:
        """The broker answered: the text of the one recovery line, if there was an outage."""
        if self.since is None:
            return None
        text = (
            f"broker reachable again after {self.clock() - self.since:.0f} s,"
            f" {self.attempts:,} attempts"
        )
        self.since, self.attempts = None, 0
        return text

    # -- as a logging filter (aiokafka's and FastStream's own loggers) --
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "outage_summary", False):
            return True
        try:
            text = record.getMessage()
        except Exception:
            return True
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        verdict = self.observe(text)
        if verdict is None:
            return True
        if verdict == "":
            return False
        record.msg, record.args, record.exc_info, record.exc_text = verdict, (), None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True

    # -- as a structlog processor (our own lines, e.g. the relay's retries) --
    def __call__(self, _logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
        if method not in ("warning", "error", "exception", "critical"):
            return event_dict
        text = f"{event_dict.get('event', '')} {event_dict.get('error', '')}"
        verdict = self.observe(text)
        if verdict is None:
            return event_dict
        if verdict == "":
            raise structlog.DropEvent
        return {**{k: v for k, v in event_dict.items() if k != "error"}, "event": verdict}


OUTAGE = BrokerOutageLog()
"""The one instance of the process (configure_logging installs it)."""


class BrokerProbe:
    """Asks the broker for its cluster metadata every second: how long it has been away,
    and which cluster (incarnation) answers."""

    def __init__(
        self,
        bootstrap: str,
        *,
        every: float = PROBE_EVERY_SECONDS,
        on_tick: Callable[[], None] | None = None,
        outage: BrokerOutageLog = OUTAGE,
    ) -> None:
        self.bootstrap = bootstrap
        self.every = every
        self.on_tick = on_tick
        self.outage = outage
        self.cluster_id: str | None = None
        self.last_ok = time.monotonic()
        self.failing_since: float | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._task: asyncio.Task[None] | None = None

    def unreachable_for(self) -> float:
        """Seconds since the broker stopped answering; 0 while it answers."""
        return 0.0 if self.failing_since is None else time.monotonic() - self.failing_since

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="broker-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._admin is not None:
            await asyncio.gather(self._admin.close(), return_exceptions=True)

    async def probe_once(self) -> bool:
        try:
            if self._admin is None:
                admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
                try:
                    await asyncio.wait_for(admin.start(), 5)
                except BaseException:
                    await asyncio.gather(admin.close(), return_exceptions=True)
                    raise
                self._admin = admin
            described = await asyncio.wait_for(self._admin.describe_cluster(), 5)
        except Exception as exc:
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            _summary_log.warning("broker_unreachable: %r", exc)
            return False
        self.cluster_id = described.get("cluster_id") or self.cluster_id
        self.last_ok = time.monotonic()
        self.failing_since = None
        if text := self.outage.recovered():
            _summary_log.warning(text, extra={"outage_summary": True})
        return True

    async def _run(self) -> None:
        while True:
            await self.probe_once()
            if self.on_tick is not None:
                self.on_tick()
            await asyncio.sleep(self.every)
