-- The daily evaluation is a clock job (daily.py): the row is written when the day's
-- students are all folded, and counts the clock events applied.
ALTER TABLE daily_evaluations RENAME COLUMN announced TO applied;
ALTER TABLE daily_evaluations ALTER COLUMN started_at DROP NOT NULL;

-- A post internship's plan, for its pace (deadlines.py): hours planned by the due date.
ALTER TABLE internships
    ADD COLUMN start_on date,
    ADD COLUMN planned_end_on date,
    ADD COLUMN weekly_hours real;
