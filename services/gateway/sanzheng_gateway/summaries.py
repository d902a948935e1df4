"""One line per timeline entry in the reader's language: what happened, with its details
and dates (a counselor reads "取得证书：数控车铣加工（初级，1+X 证书）", not a type code).
Values the school typed (titles, reasons, sites) are shown as written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanzheng_gateway.messages import word


def _join(parts: list[str], lang: str) -> str:
    return ("，" if lang == "zh" else ", ").join(p for p in parts if p)


def _labeled(label_zh: str, label_en: str, value: Any, lang: str) -> str:
    if value in (None, ""):
        return ""
    return f"{label_zh}{value}" if lang == "zh" else f"{label_en} {value}"


def _enrolled(d: dict[str, Any], lang: str) -> list[str]:
    return [
        _labeled("班级 ", "class", d.get("class_id"), lang),
        _labeled("专业 ", "major", d.get("major_name"), lang),
        _labeled("入学 ", "enrolled on", d.get("enrolled_on"), lang),
    ]


def _dated_reason(d: dict[str, Any], lang: str) -> list[str]:
    return [
        _labeled("日期 ", "on", d.get("on"), lang),
        _labeled("原因：", "reason:", d.get("reason"), lang),
    ]


def _transferred(d: dict[str, Any], lang: str) -> list[str]:
    return [
        _labeled("转入 ", "to", d.get("to_school_id"), lang),
        _labeled("班级 ", "class", d.get("to_class_id") or d.get("class_id"), lang),
        _labeled("日期 ", "on", d.get("on"), lang),
    ]


def _internship(d: dict[str, Any], lang: str) -> list[str]:
    return [
        d.get("internship_id", ""),
        word("internship_kind", d.get("kind"), lang),
        " · ".join(x for x in (d.get("employer_name"), d.get("post_title")) if x),
        _labeled("开始 ", "from", d.get("start_on"), lang),
        _labeled("结束 ", "until", d.get("end_on") or d.get("planned_end_on"), lang),
        _labeled("学时 ", "hours", d.get("hours"), lang),
        word("evaluation", d.get("evaluation"), lang),
        *_dated_reason(d, lang),
    ]


def _labor(d: dict[str, Any], lang: str) -> list[str]:
    period = " – ".join(x for x in (d.get("period_start"), d.get("period_end")) if x)
    return [
        period,
        d.get("site", ""),
        _labeled("学时 ", "hours", d.get("hours"), lang),
        word("evaluation", d.get("evaluation"), lang),
        _labeled("批准人 ", "approved by", d.get("approved_by"), lang),
        *_dated_reason(d, lang),
    ]


def _certificate(d: dict[str, Any], lang: str) -> list[str]:
    title = d.get("title") or word("certificate_kind", d.get("kind"), lang)
    level = word("level", d.get("level"), lang)
    issuer = word("issuer_type", d.get("issuer_type"), lang)
    kind = " ".join(x for x in (level, issuer) if x)
    return [
        f"{title}（{kind}）" if kind and lang == "zh" else f"{title} ({kind})" if kind else title,
        _labeled("编号 ", "no.", d.get("certificate_no"), lang),
        _labeled("发证日期 ", "issued", d.get("issued_on"), lang),
        *_dated_reason(d, lang),
    ]


def _course(d: dict[str, Any], lang: str) -> list[str]:
    return [
        d.get("course_name") or d.get("recognition_id", ""),
        _labeled("学分 ", "credits", d.get("credits"), lang),
        _labeled("成绩 ", "score", d.get("score"), lang),
        *_dated_reason(d, lang),
    ]


def _submission(d: dict[str, Any], lang: str) -> list[str]:
    reasons = "、" if lang == "zh" else "; "
    return [
        word("event_type", d.get("type"), lang),
        reasons.join(word("rule", r.get("code"), lang) for r in d.get("reasons") or []),
        _labeled("等待 ", "waiting for", d.get("waiting_for"), lang),
    ]


_BY_TYPE: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
    "student.enrolled": _enrolled,
    "student.suspended": _dated_reason,
    "student.resumed": _dated_reason,
    "student.withdrawn": _dated_reason,
    "student.graduated": _dated_reason,
    "student.repeated_year": _dated_reason,
    "student.transferred": _transferred,
    "internship.started": _internship,
    "internship.completed": _internship,
    "internship.terminated": _internship,
    "internship.cancelled": _internship,
    "labor_education.completed": _labor,
    "labor_education.exempted": _labor,
    "certificate.earned": _certificate,
    "certificate.revoked": _certificate,
    "course.completed": _course,
    "credit.recognized": _course,
    "credit.revoked": _course,
    "submission.rejected": _submission,
    "submission.held": _submission,
    "submission.released": _submission,
}


def summary(event_type: str, data: dict[str, Any], lang: str) -> str:
    """The entry's details in `lang`; empty for a type without any."""
    describe = _BY_TYPE.get(event_type)
    return _join([str(p) for p in describe(data, lang)], lang) if describe else ""
