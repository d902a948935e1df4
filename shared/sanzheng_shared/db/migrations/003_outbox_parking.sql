-- A row the broker refuses (too large, unknown topic, invalid record) is retried a few
-- times, then parked: the relay goes on with the rows after it, except those with its
-- (topic, key), which wait behind it until an operator un-parks it.
ALTER TABLE outbox
    ADD COLUMN attempts   integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN parked_at  timestamptz;

DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (topic, key, seq)
    WHERE published_at IS NULL AND parked_at IS NOT NULL;
