CREATE TABLE students (
    student_id    text PRIMARY KEY,
    school_id     text,
    name          text    NOT NULL,
    birth_date    date    NOT NULL,
    major_code    text    NOT NULL,
    major_name    text    NOT NULL,
    class_id      text    NOT NULL,
    cohort        integer NOT NULL,
    program_years integer NOT NULL DEFAULT 3,
    enrolled_on   date    NOT NULL,
    status        text    NOT NULL DEFAULT 'enrolled'
);
