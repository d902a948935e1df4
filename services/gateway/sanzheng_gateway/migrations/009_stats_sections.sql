-- GET /v1/stats counts internships and labor months from the timeline: partial indexes
-- keep that to those rows instead of every event of every student.
CREATE INDEX timeline_internships ON timeline (student_id)
    WHERE type IN ('internship.started', 'internship.completed', 'internship.terminated',
                   'internship.cancelled', 'internship.expired');
CREATE INDEX timeline_labor ON timeline (student_id)
    WHERE type IN ('labor_education.completed', 'labor_education.exempted');
