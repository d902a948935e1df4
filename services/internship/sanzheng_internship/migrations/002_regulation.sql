-- The 2021 regulation: `post` internships are done in a mode (assisted | independent); a
-- submission can be withdrawn (internship.cancelled), also one never accepted, so the
-- withdrawal is kept on its own (it may arrive before the start, SPEC §4.3).
ALTER TABLE internships ADD COLUMN mode text;
CREATE TABLE cancellations (
    internship_id text PRIMARY KEY,
    student_id    text NOT NULL,
    on_date       date NOT NULL,
    reason        text
);
CREATE INDEX cancellations_student ON cancellations (student_id);
-- Quotas count the post internships whose dates overlap a new start.
CREATE INDEX internships_post_dates ON internships (employer_id, start_on)
    WHERE kind = 'post' AND status IN ('active', 'completed');
