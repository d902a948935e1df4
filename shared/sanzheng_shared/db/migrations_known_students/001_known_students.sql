-- What a service needs to know of a student it does not own, from enrollment.events.
CREATE TABLE known_students (
    student_id    text PRIMARY KEY,
    school_id     text,
    class_id      text    NOT NULL,
    cohort        integer NOT NULL,
    program_years integer NOT NULL DEFAULT 3,
    birth_date    date    NOT NULL,
    status        text    NOT NULL DEFAULT 'enrolled'
);

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
