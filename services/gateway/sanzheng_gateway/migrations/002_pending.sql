-- Submissions a service holds until a fact arrives (SPEC §4.3), shown in the status.
CREATE TABLE held_submissions (
    source      text NOT NULL,
    id          text NOT NULL,
    student_id  text NOT NULL,
    school_id   text,
    type        text NOT NULL,
    waiting_for text NOT NULL,
    held_by     text NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX held_submissions_student ON held_submissions (student_id);
