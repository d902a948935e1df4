-- A held submission is announced (submission.held) only once it has waited longer than
-- SANZHENG_HELD_NOTICE_AFTER_SECONDS: most holds end within seconds, when the enrollment
-- they wait for comes through, and then no held/released pair is sent at all.
-- Rows held before this migration were announced when they were held.
ALTER TABLE pending ADD COLUMN announced boolean NOT NULL DEFAULT true;
ALTER TABLE pending ALTER COLUMN announced SET DEFAULT false;
CREATE INDEX pending_unannounced ON pending (received_at) WHERE NOT announced;
