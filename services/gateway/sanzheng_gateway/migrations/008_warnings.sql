-- Early warnings (SPEC §2.5): the requirements of a student at risk or overdue now, from
-- student.at_risk (a row per requirement) until student.risk_cleared (the row goes). Kept
-- apart from the timeline, which holds the facts that were accepted.
CREATE TABLE warnings (
    student_id  text NOT NULL,
    requirement text NOT NULL,
    school_id   text,
    state       text NOT NULL,
    due_on      date,
    detail      text NOT NULL,
    since       timestamptz,
    event_id    text NOT NULL,
    PRIMARY KEY (student_id, requirement)
);
