ALTER TABLE students
    ADD COLUMN national_id_hmac   text,
    ADD COLUMN national_id_enc    bytea,
    ADD COLUMN national_id_masked text,
    ADD COLUMN status_on          date,
    ADD COLUMN status_reason      text;
CREATE UNIQUE INDEX students_national_id ON students (national_id_hmac)
    WHERE national_id_hmac IS NOT NULL;

CREATE TABLE status_changes (
    event_source text NOT NULL,
    event_id     text NOT NULL,
    student_id   text NOT NULL,
    status       text NOT NULL,
    on_date      date NOT NULL,
    reason       text,
    PRIMARY KEY (event_source, event_id)
);
