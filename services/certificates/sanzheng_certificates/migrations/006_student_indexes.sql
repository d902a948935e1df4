-- A batch loads every table of its students in one statement (engine/table.py). Prepared
-- and run again and again, it may get PostgreSQL's generic plan, which reads a table
-- without an index on its student column whole for every batch: its cost then grows
-- with the number of students.
CREATE INDEX revocations_student ON revocations (student_id);
CREATE INDEX internship_rejections_student ON internship_rejections (student_id);
