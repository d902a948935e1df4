-- ACADEMIC (学业合格): the credit bank's facts, mirrored from credits.events. Keyed by the
-- canonical event's id, which `replaces` (a better retake) and `revokes` name, so a
-- replacement or a revocation folds the same whatever the arrival order.
CREATE TABLE courses (
    event_id       text PRIMARY KEY,
    student_id     text    NOT NULL,
    course_code    text    NOT NULL,
    category       text    NOT NULL,
    class_hours    numeric NOT NULL,
    practice_hours numeric NOT NULL,
    credits        numeric NOT NULL,
    passed         boolean NOT NULL,
    counted        boolean NOT NULL,
    replaces       text
);
CREATE INDEX courses_student ON courses (student_id);

CREATE TABLE credit_recognitions (
    event_id       text PRIMARY KEY,
    student_id     text    NOT NULL,
    recognition_id text    NOT NULL,
    category       text    NOT NULL,
    credits        numeric NOT NULL
);
CREATE INDEX credit_recognitions_student ON credit_recognitions (student_id);

-- Kept even before the recognition it revokes arrives.
CREATE TABLE credit_revocations (
    event_id   text PRIMARY KEY,
    student_id text NOT NULL,
    revokes    text NOT NULL
);
CREATE INDEX credit_revocations_student ON credit_revocations (student_id);

-- The student's major (from enrollment.events): the program's minimum credits may be per major.
CREATE TABLE programs (
    student_id text PRIMARY KEY,
    major_code text NOT NULL
);
