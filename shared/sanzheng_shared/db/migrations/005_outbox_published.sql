-- A row is deleted once the broker acknowledged it, in the statement that counts it here.
-- Marking it published instead (published_at) made PostgreSQL write the whole message again
-- (about 900 bytes, a seventh of the database's log end to end) and keep it a day; what was
-- published is on the broker, and what each service accepted is in its event log.
-- `last_created_at`: when the newest message published on the topic was written, i.e. when
-- the service decided it.
CREATE TABLE outbox_published (
    topic           text        PRIMARY KEY,
    messages        bigint      NOT NULL,
    last_created_at timestamptz NOT NULL
);
INSERT INTO outbox_published (topic, messages, last_created_at)
    SELECT topic, count(*), max(created_at) FROM outbox WHERE published_at IS NOT NULL
    GROUP BY topic;
DELETE FROM outbox WHERE published_at IS NOT NULL;

-- `published_at` stays, unused, for one release: during a rolling update the relay of the
-- release before still reads and marks it (its marked rows are then sent again by the new
-- relay, and dropped downstream as duplicates). A later migration drops it.
DROP INDEX outbox_unpublished;
DROP INDEX outbox_parked;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (topic, key, seq) WHERE parked_at IS NOT NULL;
