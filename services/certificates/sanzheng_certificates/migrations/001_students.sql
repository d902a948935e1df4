CREATE TABLE students (
    student_id text PRIMARY KEY,
    school_id  text,
    class_id   text    NOT NULL,
    cohort     integer NOT NULL,
    birth_date date    NOT NULL,
    status     text    NOT NULL DEFAULT 'enrolled'
);
