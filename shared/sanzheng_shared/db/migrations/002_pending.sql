-- Submissions whose checks need facts not known yet (SPEC §4.3), replayed when they arrive.
CREATE TABLE pending (
    seq         bigserial PRIMARY KEY,
    student_id  text        NOT NULL,
    topic       text        NOT NULL,
    event       jsonb       NOT NULL,
    waiting_for text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_student ON pending (student_id, seq);
