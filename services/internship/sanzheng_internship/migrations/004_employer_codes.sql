-- Quotas count an employer's interns by its 统一社会信用代码 in compact form (no spaces or
-- hyphens, upper case), which every start is stored in since the code was validated.
-- Rows stored before that kept the code as sent: '91350100-m000100y43' counted none of the
-- interns stored as '91350100M000100Y43'. The same compaction, in SQL.
UPDATE internships
   SET employer_id = btrim(upper(translate(employer_id, ' -', '')), E' \t\n\r\f\v')
 WHERE employer_id <> btrim(upper(translate(employer_id, ' -', '')), E' \t\n\r\f\v');
