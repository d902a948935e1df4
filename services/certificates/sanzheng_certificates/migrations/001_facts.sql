-- The certificates service owns certificates, and keeps its own view of every fact the
-- graduation decision needs (from the other services' outbound topics).
CREATE TABLE certificates (
    certificate_no text PRIMARY KEY,
    student_id     text NOT NULL,
    school_id      text,
    kind           text NOT NULL,
    title          text NOT NULL,
    level          text,
    issuer_type    text,
    issuer         text NOT NULL,
    issued_on      date NOT NULL
);
CREATE INDEX certificates_student ON certificates (student_id);

-- Kept even before the certificate is known: a revocation may arrive first (SPEC §4.3).
CREATE TABLE revocations (
    certificate_no text PRIMARY KEY,
    student_id     text NOT NULL,
    reason         text,
    on_date        date NOT NULL
);

CREATE TABLE internships (
    internship_id text PRIMARY KEY,
    student_id    text NOT NULL,
    kind          text NOT NULL,
    status        text NOT NULL,
    hours         numeric,
    evaluation    text,
    flags         jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX internships_student ON internships (student_id);

-- internship.started submissions the internship service rejected, from sis.rejections.
CREATE TABLE internship_rejections (
    internship_id text NOT NULL,
    student_id    text NOT NULL,
    codes         text[] NOT NULL,
    PRIMARY KEY (internship_id, student_id)
);

CREATE TABLE labor_records (
    event_id    text PRIMARY KEY,
    student_id  text NOT NULL,
    kind        text NOT NULL,
    approved_by text
);
CREATE INDEX labor_records_student ON labor_records (student_id);

-- The last decision per student, and what it said.
CREATE TABLE decisions (
    student_id     text PRIMARY KEY,
    school_id      text,
    eligible       boolean     NOT NULL,
    requirements   jsonb       NOT NULL,
    policy_version text        NOT NULL,
    decided_at     timestamptz NOT NULL
);
CREATE INDEX decisions_school ON decisions (school_id, eligible);
