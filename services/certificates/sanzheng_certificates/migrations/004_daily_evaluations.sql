-- The daily evaluation (daily.py): one row per day, inserted by the replica that runs it;
-- the others find it and do nothing.
CREATE TABLE daily_evaluations (
    day         date PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    students    integer,
    announced   integer
);
