-- The early warnings as a feed a school's system follows (GET /v1/schools/{id}/warnings):
-- every student.at_risk and student.risk_cleared, in arrival order, by school.
CREATE TABLE warning_feed (
    seq        bigserial PRIMARY KEY,
    event_id   text NOT NULL UNIQUE,
    student_id text NOT NULL,
    school_id  text,
    type       text NOT NULL,
    time       timestamptz,
    data       jsonb NOT NULL
);
CREATE INDEX warning_feed_school ON warning_feed (school_id, seq);
