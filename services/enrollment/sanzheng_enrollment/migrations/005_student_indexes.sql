-- A batch loads every table of its students in one statement (engine/table.py). Prepared
-- and run again and again, it may get PostgreSQL's generic plan, which reads a table
-- without an index on its student column whole for every batch: its cost then grows
-- with the number of students.
CREATE INDEX status_changes_student ON status_changes (student_id);
