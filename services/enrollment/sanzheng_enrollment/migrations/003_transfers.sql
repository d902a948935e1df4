-- A change of school needs both schools' agreement or the bureau's approval (SPEC §2.1):
-- each party's `student.transferred` is recorded here until the transfer takes effect.
CREATE TABLE transfers (
    transfer_id    text PRIMARY KEY,
    student_id     text   NOT NULL,
    from_school_id text   NOT NULL,
    to_school_id   text   NOT NULL,
    to_class_id    text   NOT NULL,
    to_major_code  text,
    to_major_name  text,
    on_date        date   NOT NULL,
    reason         text,
    agreed_by      text[] NOT NULL,
    done           boolean NOT NULL DEFAULT false
);
CREATE INDEX transfers_student ON transfers (student_id);
