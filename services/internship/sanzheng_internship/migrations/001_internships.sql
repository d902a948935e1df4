CREATE TABLE internships (
    internship_id  text PRIMARY KEY,
    student_id     text    NOT NULL,
    school_id      text,
    kind           text    NOT NULL,
    employer_id    text    NOT NULL,
    employer_name  text    NOT NULL,
    post_title     text    NOT NULL,
    start_on       date    NOT NULL,
    planned_end_on date    NOT NULL,
    status         text    NOT NULL DEFAULT 'active',  -- active | completed | terminated
    end_on         date,
    hours          numeric,
    evaluation     text,
    flags          jsonb   NOT NULL DEFAULT '[]'
);
CREATE INDEX internships_active_post ON internships (employer_id, post_title)
    WHERE status = 'active' AND kind = 'post';
CREATE INDEX internships_student ON internships (student_id);
