-- The per-student (and shared-key) lock rows: see engine/locks.py.
CREATE TABLE engine_locks (k text PRIMARY KEY);

-- Every inbound event the service accepted for processing, as received, in the order it
-- was folded: `sanzheng replay` rebuilds the projection from it without the broker.
-- batch_id groups the events folded together, so a replay decides at the same points.
CREATE TABLE event_log (
    seq         bigserial PRIMARY KEY,
    batch_id    uuid        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    broker_ts   bigint,
    source      text        NOT NULL,
    id          text        NOT NULL,
    student_id  text,
    school_id   text,
    type        text        NOT NULL,
    value       bytea       NOT NULL,
    logged_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_log_student ON event_log (student_id, seq);
CREATE INDEX event_log_school ON event_log (school_id, seq);

-- A dead letter keeps its inbox row (a re-read must not apply it late); a re-drive is an
-- explicit act that clears the mark.
ALTER TABLE inbox ADD COLUMN dead_lettered_at timestamptz, ADD COLUMN reason text;
