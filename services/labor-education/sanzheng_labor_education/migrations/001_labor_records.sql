-- Accepted labor-education records: completed months and approved exemptions.
CREATE TABLE labor_records (
    event_source text NOT NULL,
    event_id     text NOT NULL,
    student_id   text NOT NULL,
    kind         text NOT NULL,  -- completed | exempted
    period_start date,
    period_end   date,
    hours        numeric,
    site         text,
    reason       text,
    approved_by  text,
    on_date      date,
    PRIMARY KEY (event_source, event_id)
);
CREATE INDEX labor_records_student ON labor_records (student_id);
