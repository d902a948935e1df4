-- Every event accepted over HTTP, written in the transaction that decides the 202, beside
-- the outbox row that publishes it. Kept for SANZHENG_INGEST_RETENTION_HOURS: when the
-- embedded broker restarts empty, what the services had not consumed is gone from it, and
-- these rows are published again (the services de-duplicate by (source, id)).
CREATE TABLE accepted_events (
    seq         bigserial   PRIMARY KEY,
    source      text        NOT NULL,
    id          text        NOT NULL,
    topic       text        NOT NULL,
    key         bytea,
    value       bytea       NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accepted_events_at ON accepted_events (accepted_at);

-- The broker (its Kafka cluster id) the gateway publishes to; the embedded one gets a new
-- id at every start.
CREATE TABLE broker_epoch (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id text        NOT NULL,
    since      timestamptz NOT NULL DEFAULT now()
);
