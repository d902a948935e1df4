-- Waivers (SPEC §2.5): a requirement waived for a student by an approver the policy allows,
-- until an expiry; the legacy labor_education.exempted becomes one (its canonical id).
CREATE TABLE waivers (
    waiver_id       text PRIMARY KEY,
    student_id      text NOT NULL,
    school_id       text,
    requirement     text NOT NULL,
    reason_category text NOT NULL,
    reason          text NOT NULL,
    approver_name   text NOT NULL,
    approver_role   text NOT NULL,
    granted_on      date NOT NULL,
    expires_on      date NOT NULL
);
CREATE INDEX waivers_student ON waivers (student_id);

-- Kept even before the waiver is known: a revocation may arrive first (SPEC §4.3).
CREATE TABLE waiver_revocations (
    waiver_id  text PRIMARY KEY,
    student_id text NOT NULL,
    on_date    date NOT NULL,
    by_name    text NOT NULL,
    by_role    text NOT NULL
);
CREATE INDEX waiver_revocations_student ON waiver_revocations (student_id);
