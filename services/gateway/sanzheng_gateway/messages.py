"""The message catalogue of the dashboard: every code it shows (requirement, rule, status,
internship kind/mode/status, evaluation, certificate kind/level/issuer type, event type,
role) and every requirement detail of the graduation decision, in Chinese and English.

A code is a dictionary key with a typed `Message` ({"zh", "en"}); tests/test_messages.py
fails when a code of the event catalogue, the policy files, the services' rules or the
README's rule table has no entry here. The decision's details arrive as English sentences
(the certificates service writes them); `detail()` recognises each sentence the service can
write and says it in the reader's language, keeping the English as written."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict


class Message(TypedDict):
    zh: str
    en: str


def _m(zh: str, en: str) -> Message:
    return {"zh": zh, "en": en}


REQUIREMENTS: dict[str, Message] = {
    "ENROLLED": _m("在籍", "Enrolled"),
    "ACADEMIC": _m("学业合格", "Academic program completed"),
    "DIPLOMA": _m("学历证书", "Diploma"),
    "SKILL_1X": _m("职业技能等级证书 (1+X)", "Skill certificate (1+X)"),
    "QUALITY": _m("素质融合证书", "Quality certificate"),
    "LABOR_MONTH": _m("劳动教育月", "Labor month"),
    "INTERNSHIP": _m("岗位实习", "Post internship"),
}

RULES: dict[str, Message] = {
    "DATA_REQUIRED": _m("缺少必填信息，请学校补全后重新提交", "a required field is missing"),
    "DATA_INVALID": _m("信息格式或取值有误，请学校更正后重新提交", "a field has a wrong value"),
    "WAIVER_NOT_ALLOWED": _m(
        "政策不允许此项免除（要求、审批角色或原因类别）",
        "the policy does not allow this waiver (requirement, role or reason)",
    ),
    "WAIVER_EXPIRY_INVALID": _m("免除的截止日期已过", "the waiver's expiry is in the past"),
    "TYPE_NOT_ALLOWED": _m(
        "免除只能由校长或教育局通过免除接口办理，学校系统不能提交",
        "waivers are recorded by a principal or the bureau, not by a school system",
    ),
    "SCHOOL_MISMATCH": _m("提交学校与数据通道不符", "the school is not the sender's"),
    "SOURCE_MISMATCH": _m("数据来源不是本校系统", "the source is not the school's own"),
    "STUDENT_OTHER_SCHOOL": _m("该生属于其他学校", "the student belongs to another school"),
    "ENR_NATIONAL_ID": _m(
        "身份证号校验未通过或与出生日期不符，请核对后重新提交",
        "the national ID is invalid or does not match the birth date",
    ),
    "ENR_DUPLICATE_ID": _m("该身份证号已在其他学籍中注册", "the national ID is already enrolled"),
    "ENR_TRANSFER": _m("转学信息不一致，请核对转出和转入学校", "the transfer's parties disagree"),
    "ENR_TRANSITION": _m("当前学籍状态下不能办理此变动", "not possible in the current status"),
    "GRAD_NOT_ELIGIBLE": _m("尚不符合毕业条件，不能确认毕业", "not yet eligible to graduate"),
    "CRS_HOURS": _m("实践学时不能多于总学时", "practice hours exceed the class hours"),
    "CRS_CREDITS": _m("学分与学时不符（约16–18学时为1学分）", "credits do not match the hours"),
    "CRS_DUPLICATE": _m("同一课程或认定重复提交", "the same course or recognition again"),
    "CRS_UNKNOWN_RECOGNITION": _m("要撤销的学分认定不存在", "no such credit recognition to revoke"),
    "INT_MIN_AGE": _m("未满16周岁，不能参加岗位实习", "under 16: no post internship"),
    "INT_FIRST_YEAR": _m("一年级学生不能参加岗位实习", "no post internship in the first year"),
    "INT_AGREEMENT": _m(
        "三方协议未签订或缺少监护人知情同意，请补签后重新提交",
        "tripartite agreement or guardian consent missing",
    ),
    "INT_INSURANCE": _m(
        "实习责任保险单号缺失，请学校补充后重新提交", "internship liability insurance missing"
    ),
    "INT_HOURS": _m("每日超过8小时或每周超过40小时", "more than 8 h a day or 40 h a week"),
    "INT_NIGHT_SHIFT": _m("安排了夜班", "night shifts planned"),
    "INT_OVERTIME": _m("安排了加班或法定节假日上班", "overtime or holiday work planned"),
    "INT_QUOTA": _m(
        "实习生人数超过单位职工10%或岗位职工20%", "interns over 10% of staff or 20% of the post"
    ),
    "INT_PAY": _m(
        "实习报酬低于标准或未直接按月足额发放给学生", "pay below the minimum or not paid directly"
    ),
    "INT_FEES": _m("向学生收取了费用或押金", "fees or a deposit charged"),
    "INT_DURATION": _m("岗位实习时间超过约6个月", "post internships longer than about 6 months"),
    "INT_VENUE": _m(
        "实习场所或中介不符合规定（如酒吧、网吧、中介）", "a banned venue or an intermediary"
    ),
    "INT_HAZARD": _m("安排了高强度或禁忌从事的劳动", "heavy or prohibited work for this student"),
    "INT_HOURS_RECORDED": _m(
        "登记的实习学时超过工作日每天8小时", "recorded hours above 8 a working day"
    ),
    "INT_EXPIRED": _m(
        "实习已过计划结束日期30天仍未办结，请学校提交完成、终止或撤回",
        "still active 30 days after its planned end: send its completion, end or withdrawal",
    ),
    "LAB_DURATION": _m("劳动教育不足规定的工作日天数", "the labor month is too short"),
    "LAB_GRADE_YEAR": _m("劳动教育月应在二年级进行", "the labor month is in the 2nd year"),
    "LAB_JUNE": _m("劳动教育月应在6月（或补做在7–8月）", "the labor month lies in June"),
    "CERT_DUPLICATE_NO": _m("该证书编号已属于其他学生", "the certificate number is another's"),
}

STATUSES: dict[str, Message] = {
    "enrolled": _m("在籍", "enrolled"),
    "suspended": _m("休学", "suspended"),
    "withdrawn": _m("退学", "withdrawn"),
    "graduated": _m("已毕业", "graduated"),
    "transferred": _m("已转学", "transferred"),
}

INTERNSHIP_KINDS: dict[str, Message] = {
    "cognitive": _m("认识实习", "cognitive"),
    "post": _m("岗位实习", "post"),
}

INTERNSHIP_MODES: dict[str, Message] = {
    "assisted": _m("辅助实习（跟岗）", "assisted"),
    "independent": _m("相对独立实习（顶岗）", "independent"),
}

INTERNSHIP_STATUSES: dict[str, Message] = {
    "active": _m("进行中", "active"),
    "completed": _m("已完成", "completed"),
    "terminated": _m("已终止", "terminated"),
    "cancelled": _m("已取消", "cancelled"),
    "expired": _m("逾期未办结", "expired (not closed)"),
}

EVALUATIONS: dict[str, Message] = {
    "pass": _m("合格", "pass"),
    "fail": _m("不合格", "fail"),
}

LABOR_KINDS: dict[str, Message] = {
    "completed": _m("已完成", "completed"),
    "exempted": _m("免修", "exempted"),
}

CERTIFICATE_KINDS: dict[str, Message] = {
    "diploma": _m("学历证书", "diploma"),
    "skill": _m("职业技能等级证书", "skill certificate"),
    "quality": _m("素质融合证书", "quality certificate"),
}

LEVELS: dict[str, Message] = {
    "junior": _m("初级", "junior"),
    "intermediate": _m("中级", "intermediate"),
    "senior": _m("高级", "senior"),
}

ISSUER_TYPES: dict[str, Message] = {
    "x_certificate": _m("1+X 证书", "1+X certificate"),
    "skill_level_recognition": _m("职业技能等级认定", "skill level recognition"),
    "vocational_qualification": _m("职业资格证书", "vocational qualification"),
}

EVENT_TYPES: dict[str, Message] = {
    "student.enrolled": _m("入学注册", "enrolled"),
    "student.suspended": _m("休学", "suspended"),
    "student.resumed": _m("复学", "resumed"),
    "student.withdrawn": _m("退学", "withdrawn"),
    "student.transferred": _m("转学 / 转班", "transferred"),
    "student.repeated_year": _m("留级", "repeated a year"),
    "student.graduated": _m("毕业", "graduated"),
    "internship.started": _m("实习开始", "internship started"),
    "internship.completed": _m("实习完成", "internship completed"),
    "internship.terminated": _m("实习终止", "internship terminated"),
    "internship.cancelled": _m("实习取消", "internship cancelled"),
    "internship.expired": _m("实习逾期未办结", "internship expired (not closed)"),
    "labor_education.completed": _m("劳动教育月完成", "labor month completed"),
    "labor_education.exempted": _m("劳动教育月免修", "labor month exempted"),
    "certificate.earned": _m("取得证书", "certificate earned"),
    "certificate.revoked": _m("证书撤销", "certificate revoked"),
    "requirement.waived": _m("毕业要求免除", "requirement waived"),
    "requirement.waiver_revoked": _m("免除撤销", "waiver revoked"),
    "student.at_risk": _m("毕业要求预警", "requirement at risk"),
    "student.risk_cleared": _m("预警解除", "risk cleared"),
    "graduation.daily_evaluation": _m("每日评估", "daily evaluation"),
    "course.completed": _m("课程完成", "course completed"),
    "credit.recognized": _m("学分认定", "credit recognized"),
    "credit.revoked": _m("学分撤销", "credit revoked"),
    "submission.rejected": _m("提交被退回", "submission rejected"),
    "enrollment.conflict": _m("学籍冲突", "enrollment conflict"),
    "submission.held": _m("提交待处理", "submission held"),
    "submission.released": _m("待处理提交已放行", "submission released"),
    "graduation.eligibility_changed": _m("毕业审核结果变化", "graduation decision changed"),
}

COURSE_CATEGORIES: dict[str, Message] = {
    "public-basic": _m("公共基础课", "public-basic"),
    "professional": _m("专业课", "professional"),
    "practice": _m("实践课", "practice"),
}

CREDIT_SOURCES: dict[str, Message] = {
    "course": _m("课程", "course"),
    "transfer": _m("学分转入", "transfer"),
    "certificate": _m("证书转换", "certificate"),
    "prior_learning": _m("先前学习认定", "prior learning"),
}

ROLES: dict[str, Message] = {
    "sis": _m("学校系统", "school system"),
    "counselor": _m("班主任", "counselor"),
    "principal": _m("校长", "principal"),
    "bureau": _m("教育局", "bureau"),
    "admin": _m("管理员", "administrator"),
}

# The services that hold a submission until a fact arrives (`held_by`).
SERVICES: dict[str, Message] = {
    "enrollment": _m("学籍服务", "enrollment service"),
    "internship": _m("实习服务", "internship service"),
    "labor-education": _m("劳动教育服务", "labor education service"),
    "labor_education": _m("劳动教育服务", "labor education service"),
    "certificates": _m("证书服务", "certificates service"),
    "credits": _m("学分银行服务", "credit bank service"),
}

# The urgency of a requirement (urgency.py, or the decision's own `state`).
REQUIREMENT_STATES: dict[str, Message] = {
    "met": _m("已满足", "met"),
    "on_track": _m("未到期", "not due yet"),
    "at_risk": _m("即将到期", "due soon"),
    "overdue": _m("已逾期", "overdue"),
}

# The one next step a counselor takes for an unmet requirement (the class page).
NEXT_ACTIONS: dict[str, Message] = {
    "ENROLLED": _m("核实学籍状态，休学的学生需办理复学", "check the status: resume if suspended"),
    "ACADEMIC": _m("督促补修未通过或缺少的课程学分", "make up the missing or failed credits"),
    "DIPLOMA": _m("请学校发放学历证书后提交", "have the school issue and submit the diploma"),
    "SKILL_1X": _m("安排报考职业技能等级证书（1+X）", "register for a 1+X skill certificate"),
    "QUALITY": _m("请学校发放素质融合证书后提交", "have the school issue the quality certificate"),
    "LABOR_MONTH": _m(
        "安排二年级六月劳动教育月（或7–8月补做）", "arrange the June labor month (or July–August)"
    ),
    "INTERNSHIP": _m(
        "安排岗位实习，完成后登记学时；被退回的申报请更正",
        "arrange a post internship and record its hours; correct rejected ones",
    ),
}

REASON_CATEGORIES: dict[str, Message] = {
    "medical": _m("医疗原因", "medical"),
    "disability": _m("残疾", "disability"),
    "hardship": _m("家庭困难", "hardship"),
    "transfer": _m("转学衔接", "transfer"),
    "other": _m("其他原因", "other"),
}

GROUPS: dict[str, dict[str, Message]] = {
    "requirement": REQUIREMENTS,
    "rule": RULES,
    "status": STATUSES,
    "internship_kind": INTERNSHIP_KINDS,
    "internship_mode": INTERNSHIP_MODES,
    "internship_status": INTERNSHIP_STATUSES,
    "evaluation": EVALUATIONS,
    "labor_kind": LABOR_KINDS,
    "certificate_kind": CERTIFICATE_KINDS,
    "level": LEVELS,
    "issuer_type": ISSUER_TYPES,
    "event_type": EVENT_TYPES,
    "course_category": COURSE_CATEGORIES,
    "credit_source": CREDIT_SOURCES,
    "role": ROLES,
    "service": SERVICES,
    "state": REQUIREMENT_STATES,
    "next_action": NEXT_ACTIONS,
    "reason_category": REASON_CATEGORIES,
    "requirement_state": REQUIREMENT_STATES,
}


def word(group: str, code: object, lang: str) -> str:
    """The code said in `lang`; an unknown code is shown as it is."""
    if code is None or code == "":
        return ""
    found = GROUPS[group].get(str(code))
    return found["zh" if lang == "zh" else "en"] if found else str(code)


def _codes(text: str) -> str:
    return "、".join(word("rule", c.strip(), "zh") for c in text.split(","))


def _rejected(which: str) -> str:
    """`INT-1 (INT_INSURANCE, INT_FEES); INT-2 (INT_HOURS)` in words."""
    parts = re.findall(r"([^;()]+?) \(([^)]*)\)", which)
    return "；".join(f"{iid.strip()}（{_codes(codes)}）" for iid, codes in parts) or which


def _uncounted(why: str) -> str:
    """`SK-1: junior/x_certificate, SK-2: senior/other` in words."""
    out = []
    for item in why.split(", "):
        number, _, kind = item.rpartition(": ")
        level, _, issuer = kind.partition("/")
        out.append(f"{number}：{word('level', level, 'zh')}/{word('issuer_type', issuer, 'zh')}")
    return "；".join(out)


_LEVEL_ORDER = ("junior", "intermediate", "senior")


def uncounted_skills(detail: str, lang: str) -> dict[str, str]:
    """Why each skill certificate does not count, from the SKILL_1X detail
    (`… at level junior or above (not counted: SK-2: junior/other)`): {number: why}."""
    found = re.search(r"at level (\w+) or above \(not counted: (.+)\)$", detail or "")
    if not found:
        return {}
    floor, why = found.group(1), {}
    for item in found.group(2).split(", "):
        number, _, kind = item.rpartition(": ")
        level, _, issuer = kind.partition("/")
        below = level not in _LEVEL_ORDER or (
            floor in _LEVEL_ORDER and _LEVEL_ORDER.index(level) < _LEVEL_ORDER.index(floor)
        )
        if lang == "zh":
            low, need = word("level", level, lang), word("level", floor, lang)
            why[number] = (
                f"不计入毕业条件：等级{low}低于要求的{need}"
                if below
                else f"不计入毕业条件：{word('issuer_type', issuer, lang)}不在政策认可的发证类型内"
            )
        else:
            why[number] = (
                f"does not count: level {level} is below {floor}"
                if below
                else f"does not count: {word('issuer_type', issuer, lang)} is not accepted by"
                " the policy"
            )
    return why


_ACADEMIC_ITEMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"no completed course recorded"), lambda m: "尚无已完成课程的记录"),
    (
        re.compile(r"credits (?P<c>[\d.]+) of (?P<m>[\d.]+)"),
        lambda m: f"学分 {m['c']} / {m['m']}",
    ),
    (
        re.compile(r"(?P<cat>[a-z-]+) credits (?P<c>[\d.]+) of (?P<m>[\d.]+)"),
        lambda m: f"{word('course_category', m['cat'], 'zh')}学分 {m['c']} / {m['m']}",
    ),
    (
        re.compile(
            r"practice (?P<p>[\d.]+)% of (?P<h>[\d,]+) class hours, "
            r"(?P<n>[\d,]+) more practice hours needed"
        ),
        lambda m: f"实践教学占总学时 {m['h']} 的 {m['p']}%，须超过一半，还需 {m['n']} 实践学时",
    ),
)


def _academic(items: str) -> str:
    """`practice 46% of 2,980 class hours, …; credits 150 of 170` in words."""
    out = []
    for item in items.split("; "):
        said = next(
            (say(m) for pattern, say in _ACADEMIC_ITEMS if (m := pattern.fullmatch(item))), item
        )
        out.append(said)
    return "；".join(out)


_NAMES = {
    "diploma (学历证书)": "学历证书",
    "quality-integration certificate (素质融合证书)": "素质融合证书",
}


@dataclass(frozen=True)
class Detail:
    pattern: re.Pattern[str]
    zh: str
    en: str  # what the service writes, as a pattern's description
    say: dict[str, Callable[[str], str]]


def _d(pattern: str, zh: str, en: str, **say: Callable[[str], str]) -> Detail:
    return Detail(re.compile(pattern), zh, en, say)


_LEVEL: Callable[[str], str] = lambda level: word("level", level, "zh")  # noqa: E731
_NAME: Callable[[str], str] = lambda name: _NAMES.get(name, name)  # noqa: E731
_SKILL = (
    r"(?P<n>\d+) of (?P<m>\d+) at level (?P<level>\w+) or above(?: \(not counted: (?P<why>.+)\))?"
)

DETAILS: tuple[Detail, ...] = (
    _d(r"academic program completed: credits (?P<c>[\d.]+) of (?P<m>[\d.]+); "
       r"practice (?P<p>[\d.]+)% of (?P<h>[\d,]+) class hours",
       "学业合格：学分 {c} / {m}；实践教学占总学时 {h} 的 {p}%",
       "academic program completed: credits C of M; practice P% of H class hours"),
    _d(r"academic program not completed: (?P<items>.+)", "学业尚未合格：{items}",
       "academic program not completed: …", items=_academic),
    _d(r"no enrollment received for this student", "尚未收到该生的学籍注册信息",
       "no enrollment received for this student"),
    _d(r"withdrawn: never eligible to graduate", "已退学，不能毕业",
       "withdrawn: never eligible to graduate"),
    _d(r"suspended: eligible only once resumed", "休学中，复学后才能毕业",
       "suspended: eligible only once resumed"),
    _d(r"graduated \(confirmed by the school\)", "已毕业（学校已确认）",
       "graduated (confirmed by the school)"),
    _d(r"enrolled", "在籍", "enrolled"),
    _d(r"skill certificate missing: " + _SKILL,
       "缺少职业技能等级证书：{level}及以上已有 {n} 张，需要 {m} 张{why}",
       "skill certificate missing: N of M at level L or above", level=_LEVEL,
       why=lambda why: f"（不计入：{_uncounted(why)}）" if why else ""),
    _d(r"skill certificates: " + _SKILL,
       "职业技能等级证书已满足：{level}及以上 {n} 张（需要 {m} 张）{why}",
       "skill certificates: N of M at level L or above", level=_LEVEL,
       why=lambda why: f"（不计入：{_uncounted(why)}）" if why else ""),
    _d(r"(?P<name>.+) held \((?P<numbers>.*)\)", "已取得{name}（{numbers}）",
       "NAME held (NUMBERS)", name=_NAME),
    _d(r"(?P<name>.+) missing", "缺少{name}，请学校发放后提交", "NAME missing", name=_NAME),
    _d(r"June labor-education month completed", "六月劳动教育月已完成",
       "June labor-education month completed"),
    _d(r"waived by (?P<by>.+) \((?P<role>\w+)\), reason (?P<cat>\w+): (?P<why>.*), "
       r"until (?P<until>[\d-]+)",
       "已免除（批准人：{by}，{role}；原因：{cat}，{why}；有效期至 {until}）",
       "waived by X (ROLE), reason CATEGORY: TEXT, until DATE",
       role=lambda r: word("role", r, "zh"), cat=lambda c: word("reason_category", c, "zh")),
    _d(r"June labor-education month \(2nd school year\) not recorded",
       "尚无二年级六月劳动教育月的记录", "June labor-education month not recorded"),
    _d(r"rejected internship neither corrected nor cancelled: (?P<which>.+); "
       r"post internship hours (?P<h>[\d.]+) of (?P<m>[\d.]+)",
       "实习申报被退回，尚未更正或取消：{which}；请学校更正后重新提交。岗位实习学时 {h} / {m}",
       "rejected internship neither corrected nor cancelled: …", which=_rejected),
    _d(r"no completed post internship \(岗位实习\) of (?P<m>[\d.]+) hours",
       "尚无已完成的岗位实习（需要 {m} 学时）", "no completed post internship of M hours"),
    _d(r"post internship hours (?P<h>[\d.]+) of (?P<m>[\d.]+) required",
       "岗位实习学时不足：已有 {h}，需要 {m}", "post internship hours H of M required"),
    _d(r"post internship completed: (?P<h>[\d.]+) of (?P<m>[\d.]+) hours",
       "岗位实习已完成：{h} / {m} 学时", "post internship completed: H of M hours"),
)  # fmt: skip


_EXPIRED = re.compile(r"(?P<rest>.+); waiver by (?P<by>.+) expired on (?P<on>[\d-]+)")


def known_detail(text: str) -> Detail | None:
    if expired := _EXPIRED.fullmatch(text):
        text = expired.group("rest")
    return next((d for d in DETAILS if d.pattern.fullmatch(text)), None)


def detail(text: str, lang: str) -> str:
    """A requirement's detail in `lang`: English as the service wrote it; Chinese from the
    catalogue (an unknown sentence is shown as written)."""
    found = known_detail(text)
    if lang != "zh" or found is None:
        return text
    if expired := _EXPIRED.fullmatch(text):  # a waiver no longer counts: say why
        return f"{detail(expired.group('rest'), lang)}（{expired.group('by')} 批准的免除已于 " + (
            f"{expired.group('on')} 到期）"
        )
    match = found.pattern.fullmatch(text)
    assert match is not None
    values = {}
    for key, value in match.groupdict().items():
        say = found.say.get(key)
        values[key] = say(value or "") if say else value or ""
    return found.zh.format(**values)


def days_left(days: int | None, lang: str) -> str:
    """`还有 12 天` / `已逾期 3 天`: the distance to a due date in words."""
    if days is None:
        return ""
    if lang == "zh":
        return f"还有 {days} 天" if days >= 0 else f"已逾期 {-days} 天"
    return f"{days} days left" if days >= 0 else f"{-days} days overdue"


# What a held submission may wait for besides an event type: a diploma waits until the
# student is eligible to graduate.
WAITING: dict[str, Message] = {
    "graduation.eligibility_changed": _m(
        "该生符合毕业条件（学历证书在此之前暂缓）", "the student becoming eligible to graduate"
    ),
}


def waiting(text: str, lang: str) -> str:
    """A held submission's `waiting_for` (`internship.started INT-1`): the type in words."""
    if text in WAITING:
        return WAITING[text]["zh" if lang == "zh" else "en"]
    kind, _, rest = text.partition(" ")
    return f"{word('event_type', kind, lang)} {rest}".strip()
