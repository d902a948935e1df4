-- The gateway's own read model, built from the services' outbound topics.
CREATE TABLE students (
    student_id         text PRIMARY KEY,
    school_id          text NOT NULL,
    name               text NOT NULL,
    class_id           text NOT NULL,
    cohort             integer NOT NULL,
    major_code         text,
    major_name         text,
    birth_date         date,
    enrolled_on        date,
    national_id_masked text,
    status             text NOT NULL DEFAULT 'enrolled'
);
CREATE INDEX students_school ON students (school_id, cohort, class_id);

-- The learning account (学分银行): every accepted event about a student, in arrival order.
CREATE TABLE timeline (
    seq        bigserial PRIMARY KEY,
    event_id   text NOT NULL UNIQUE,
    student_id text NOT NULL,
    school_id  text,
    type       text NOT NULL,
    time       timestamptz,
    data       jsonb NOT NULL
);
CREATE INDEX timeline_student ON timeline (student_id, seq);

CREATE TABLE decisions (
    student_id     text PRIMARY KEY,
    school_id      text,
    eligible       boolean NOT NULL,
    requirements   jsonb NOT NULL,
    missing        text[] NOT NULL,
    policy_version text NOT NULL,
    decided_at     timestamptz NOT NULL
);
CREATE INDEX decisions_missing ON decisions USING gin (missing);

-- Every decision ever announced, for `as_of` questions.
CREATE TABLE decision_history (
    event_id       text PRIMARY KEY,
    student_id     text NOT NULL,
    eligible       boolean NOT NULL,
    requirements   jsonb NOT NULL,
    policy_version text NOT NULL,
    decided_at     timestamptz NOT NULL
);
CREATE INDEX decision_history_student ON decision_history (student_id, decided_at);

CREATE TABLE tokens (
    token_id   text PRIMARY KEY,          -- the shown prefix, e.g. szk_c_8fK2…
    token_hash text NOT NULL UNIQUE,      -- sha256 of the whole token; the token is never stored
    role       text NOT NULL CHECK (role IN ('sis', 'counselor', 'bureau', 'admin')),
    school_id  text,
    label      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK (role IN ('bureau', 'admin') OR school_id IS NOT NULL)
);

-- Append-only: who read which student record, when, and with what outcome (SPEC §8).
CREATE TABLE access_log (
    seq        bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    token_id   text,
    role       text,
    school_id  text,
    student_id text,
    action     text NOT NULL,
    outcome    text NOT NULL,
    request_id text NOT NULL
);
CREATE INDEX access_log_student ON access_log (student_id, seq);
CREATE FUNCTION access_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only';
END $$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_is_append_only();
