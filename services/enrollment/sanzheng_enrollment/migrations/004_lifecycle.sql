-- The lifecycle (SPEC §2.1): a suspension's start (its length pushes the expected
-- graduation back), school years added by suspensions and repeated years, the expected
-- graduation, the last graduation decision (graduated only when eligible), and the sex from
-- the national id (personal data, never listed; the internship rules need it).
ALTER TABLE students
    ADD COLUMN suspended_on        date,
    ADD COLUMN years_behind        integer NOT NULL DEFAULT 0,
    ADD COLUMN expected_graduation date,
    ADD COLUMN eligible            boolean,
    ADD COLUMN sex                 text;
