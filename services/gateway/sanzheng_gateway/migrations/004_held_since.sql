-- When a submission was held (the broker time of the hold), to tell stale waits (issue 9).
ALTER TABLE held_submissions ADD COLUMN held_since timestamptz;
