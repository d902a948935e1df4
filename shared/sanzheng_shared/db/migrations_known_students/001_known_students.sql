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
