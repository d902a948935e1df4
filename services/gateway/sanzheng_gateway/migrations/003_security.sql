-- Issue 10 (security): tokens expire, dashboard sessions live on the server, the access
-- log refuses TRUNCATE, and no stored masked id keeps more than its last four characters.

-- Tokens made before expiry existed get the default lifetime from now, so they roll over
-- (their ids were a prefix of the secret; new ones are random).
ALTER TABLE tokens ADD COLUMN expires_at timestamptz;
UPDATE tokens SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE tokens ALTER COLUMN expires_at SET NOT NULL;

-- A dashboard session: the cookie holds a random id; only its hash is kept.
CREATE TABLE sessions (
    id_hash    text PRIMARY KEY,
    token_id   text NOT NULL REFERENCES tokens (token_id),
    created_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now(),
    ended_at   timestamptz
);

-- TRUNCATE fires no row or UPDATE/DELETE trigger: refuse it with its own.
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_is_append_only();

-- The region code plus the birth date rebuilt the whole number: keep the last four only.
UPDATE students SET national_id_masked = repeat('*', 14) || right(national_id_masked, 4)
    WHERE national_id_masked IS NOT NULL;
