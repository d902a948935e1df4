-- De-duplication: one row per (consumer, source, id) ever applied (SPEC 3.1, 4.1).
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    source      text        NOT NULL,
    id          text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, id)
);

-- The next offset to read, per partition, written in the same transaction as the projection.
-- last_timestamp is the broker timestamp of the record just before next_offset: it tells
-- whether the partition still holds the history the offset points into.
CREATE TABLE consumer_offsets (
    consumer       text    NOT NULL,
    topic          text    NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint  NOT NULL,
    last_timestamp bigint,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- Transactional outbox: what the service emits, in the order it decided it.
CREATE TABLE outbox (
    seq          bigserial   PRIMARY KEY,
    topic        text        NOT NULL,
    key          bytea,
    value        bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
