-- The classes a counselor looks after (`sanzheng token create --class C`, repeatable): the
-- dashboard opens on the first of them. Empty for every other token.
ALTER TABLE tokens ADD COLUMN classes text[] NOT NULL DEFAULT '{}';
