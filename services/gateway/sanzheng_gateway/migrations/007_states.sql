-- Requirement states (SPEC §2.5) on the latest decision, for `?state=` and `?sort=urgency`:
-- the states of the unmet requirements, the earliest due date among them, and an urgency
-- rank (0 overdue, 1 at risk, 2 on track, 3 nothing unmet).
ALTER TABLE decisions ADD COLUMN states text[] NOT NULL DEFAULT '{}';
ALTER TABLE decisions ADD COLUMN next_due date;
ALTER TABLE decisions ADD COLUMN urgency smallint NOT NULL DEFAULT 3;
CREATE INDEX decisions_states ON decisions USING gin (states);
