-- Quotas count an employer's interns by its 统一社会信用代码 in compact form, which every
-- start is stored in since the code is validated (python-stdnum's `uscc.compact`: each
-- Unicode dash, space and digit variant read as its ASCII character, then spaces and
-- hyphens removed, upper case). Rows stored before kept the code as sent:
-- '91110105-ma0123 4565' counted none of the interns stored as '91110105MA01234565'.
-- The same compaction in SQL; the character table is stdnum 2.2's (`stdnum.util._char_map`).
UPDATE internships i SET employer_id = c.code
  FROM (SELECT internship_id, btrim(upper(translate(translate(employer_id,
    U&'֊־‐‑‒–—―﹣－᠊‾⁃¯˗￣\1680⁻₋−⎯⎺⎻⎼⎽⏤٭܍⁕꘎﹡＊∗⋆✱⁎✲✳✺✻✼✽❊❋،‚、٫٬′⸴︐﹐﹑，¸··۔。܁܂࠰་༌᛫•․‧⸱⸳・﹒．･𐄁𐤟𐩐˙﮲﮳∙⋅࠼／∕⟋⧸⁄፡᛬᠄︓：︰﹕\00A0\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\202F\205F\3000０𝟎𝟘𝟢𝟬𝟶１𝟏𝟙𝟣𝟭𝟷２𝟐𝟚𝟤𝟮𝟸３𝟑𝟛𝟥𝟯𝟹４𝟒𝟜𝟦𝟰𝟺５𝟓𝟝𝟧𝟱𝟻６𝟔𝟞𝟨𝟲𝟼７𝟕𝟟𝟩𝟳𝟽８𝟖𝟠𝟪𝟴𝟾９𝟗𝟡𝟫𝟵𝟿`´ʾʿʹʻʼˈ̀́̒̓՚‛‘’',
    U&'--------------------------******************,,,,,,,,,,,,...........................//////:::::::\0020\0020\0020\0020\0020\0020\0020\0020\0020\0020\0020\0020\0020\0020\0020000000111111222222333333444444555555666666777777888888999999'''''''''''''''''''''''''''''''''),
    ' -', '')), E' \t\n\r\f') AS code
          FROM internships) c
 WHERE c.internship_id = i.internship_id AND i.employer_id <> c.code;
