-- Completed courses, every attempt; `counted` marks the one that counts (CRS_DUPLICATE).
CREATE TABLE courses (
    event_source   text    NOT NULL,
    event_id       text    NOT NULL,
    student_id     text    NOT NULL,
    course_code    text    NOT NULL,
    course_name    text    NOT NULL,
    category       text    NOT NULL,  -- public-basic | professional | practice
    class_hours    numeric NOT NULL,
    practice_hours numeric NOT NULL,
    credits        numeric NOT NULL,
    score          numeric,
    passed         boolean NOT NULL,
    term           text    NOT NULL,
    counted        boolean NOT NULL,
    PRIMARY KEY (event_source, event_id)
);
CREATE INDEX courses_student ON courses (student_id, course_code);

-- Credit recognized from outside the program, with its evidence, until revoked.
CREATE TABLE recognitions (
    student_id     text    NOT NULL,
    recognition_id text    NOT NULL,
    event_source   text    NOT NULL,
    event_id       text    NOT NULL,
    kind           text    NOT NULL,  -- transfer | certificate | prior_learning
    credits        numeric NOT NULL,
    category       text    NOT NULL,
    course_code    text,
    practice_hours numeric NOT NULL,
    evidence       jsonb   NOT NULL,
    approver       text    NOT NULL,
    on_date        date,
    revoked        boolean NOT NULL DEFAULT false,
    revoked_on     date,
    PRIMARY KEY (student_id, recognition_id)
);
