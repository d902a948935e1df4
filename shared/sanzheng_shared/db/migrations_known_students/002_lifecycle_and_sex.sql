-- The lifecycle (SPEC §2.1): school years added by suspensions and repeated years, and the
-- expected graduation they push back. `sex` (from the national id at enrollment, for the
-- Art. 16(4) ban) is stored only by the internship service, which needs it; elsewhere NULL.
ALTER TABLE known_students
    ADD COLUMN years_behind        integer NOT NULL DEFAULT 0,
    ADD COLUMN expected_graduation date,
    ADD COLUMN sex                 text;
