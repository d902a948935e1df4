-- Waivers (SPEC §2.5): a principal (校长, one school) approves them beside the bureau.
ALTER TABLE tokens DROP CONSTRAINT tokens_role_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_role_check
    CHECK (role IN ('sis', 'counselor', 'principal', 'bureau', 'admin'));
-- GET /v1/schools/{id}/waivers folds a school's waiver rows of the timeline.
CREATE INDEX timeline_waivers ON timeline (school_id, student_id)
    WHERE type IN ('requirement.waived', 'requirement.waiver_revoked',
                   'labor_education.exempted');
