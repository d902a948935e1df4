-- A decision's id derives from its content and the decision before it, so a changed
-- decision is never taken for a duplicate and a replay announces the same ids.
ALTER TABLE decisions ADD COLUMN event_id text;
