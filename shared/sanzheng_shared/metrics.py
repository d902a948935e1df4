"""Prometheus metrics every service exposes on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "sanzheng_events_total",
    "Inbound messages by outcome (applied, duplicates, rejected, dead_lettered, ignored: a"
    " type this service does not fold, on another service's topic)",
    ["service", "outcome"],
)
BATCH_SECONDS = Histogram(
    "sanzheng_batch_seconds",
    "Time to apply one consumed batch in PostgreSQL",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TRANSIENT_RETRIES = Counter(
    "sanzheng_transient_retries_total", "Batches retried after a transient error", ["service"]
)
CONSUMER_LAG = Gauge(
    "sanzheng_consumer_lag",
    "Messages between the consumer's position and the end of the partition",
    ["service", "topic", "partition"],
)
OUTBOX_PUBLISHED = Counter(
    "sanzheng_outbox_published_total", "Outbox messages published to Kafka", ["service", "topic"]
)
OUTBOX_PENDING = Gauge("sanzheng_outbox_pending", "Outbox messages not yet published", ["service"])
DB_STATEMENTS = Counter(
    "sanzheng_db_statements_total",
    "SQL statements the batch consumer sent (load, fold, save: a constant per batch)",
    ["service"],
)
STUCK = Gauge(
    "sanzheng_consumer_stuck",
    "1 while the consumer cannot advance past an error that is neither transient nor one"
    " message's (see the log line consumer_stuck)",
    ["service"],
)
OUTBOX_PARKED = Gauge(
    "sanzheng_outbox_parked_rows",
    "Outbox rows parked because the broker refused them after their retries (rows with "
    "their key wait behind them)",
    ["service"],
)
OUTBOX_PARKED_TOTAL = Counter(
    "sanzheng_outbox_parked_total", "Outbox rows parked, by topic", ["service", "topic"]
)
OUTBOX_FAILURES = Counter(
    "sanzheng_outbox_send_failures_total",
    "Outbox batches the broker did not acknowledge, by kind (retriable, refused)",
    ["service", "kind"],
)
INBOX_PRUNED = Counter(
    "sanzheng_inbox_pruned_total",
    "Inbox rows deleted because the broker can no longer re-deliver their events",
    ["service"],
)
CONSUMER_FETCH_AGE = Gauge(
    "sanzheng_consumer_seconds_since_fetch",
    "Seconds since the consumer last had a fetch answered by the broker (even an empty one)",
    ["service", "group"],
)
BROKER_UNREACHABLE = Gauge(
    "sanzheng_broker_unreachable_seconds",
    "Seconds the broker has not answered this process's probe (0 while it answers)",
    ["service"],
)
PENDING_STALE = Gauge(
    "sanzheng_pending_stale",
    "Submissions held in pending longer than the policy's limit (sanzheng pending list)",
    ["service"],
)
