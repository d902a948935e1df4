-- "The same post" of the 20% quota is a post category from the policy (or the title when
-- none is known), resolved when the internship is accepted. Rows from before: their title.
ALTER TABLE internships ADD COLUMN post_kind text;
UPDATE internships SET post_kind = 'title:' || lower(regexp_replace(post_title, '\s', '', 'g'));
-- The daily expiry looks for active internships past their planned end.
CREATE INDEX internships_active_end ON internships (planned_end_on) WHERE status = 'active';
