-- GET /v1/stats: certificates are counted from the timeline; a partial index keeps that to
-- the certificate rows instead of every event of every student.
CREATE INDEX timeline_certificates ON timeline (student_id)
    WHERE type IN ('certificate.earned', 'certificate.revoked');
-- Students enrolled by an `as_of` day, and the bureau's filters by major.
CREATE INDEX students_major ON students (major_code, cohort);
