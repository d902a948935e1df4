"""Timeline entries and uncounted skill certificates, said in words."""

from __future__ import annotations

from sanzheng_gateway import messages, summaries


def test_a_timeline_entry_says_what_happened_with_its_dates() -> None:
    earned = {
        "certificate_no": "SK-1",
        "kind": "skill",
        "title": "数控车铣加工",
        "level": "junior",
        "issuer_type": "x_certificate",
        "issued_on": "2026-05-20",
    }
    zh = summaries.summary("certificate.earned", earned, "zh")
    assert zh == "数控车铣加工（初级 1+X 证书），编号 SK-1，发证日期 2026-05-20"
    en = summaries.summary("certificate.earned", earned, "en")
    assert en == "数控车铣加工 (junior 1+X certificate), no. SK-1, issued 2026-05-20"
    revoked = {"certificate_no": "SK-1", "on": "2026-06-01", "reason": "伪造"}
    assert "日期 2026-06-01，原因：伪造" in summaries.summary("certificate.revoked", revoked, "zh")
    rejected = {"type": "internship.started", "reasons": [{"code": "INT_FEES"}]}
    assert summaries.summary("submission.rejected", rejected, "zh") == (
        "实习开始，" + messages.RULES["INT_FEES"]["zh"]
    )
    assert summaries.summary("no.such_type", {"x": 1}, "zh") == ""


def test_a_skill_certificate_that_does_not_count_says_why() -> None:
    detail = (
        "skill certificate missing: 0 of 1 at level intermediate or above"
        " (not counted: SK-1: junior/x_certificate, SK-2: senior/other)"
    )
    why = messages.uncounted_skills(detail, "zh")
    assert why == {
        "SK-1": "不计入毕业条件：等级初级低于要求的中级",
        "SK-2": "不计入毕业条件：other不在政策认可的发证类型内",
    }
    assert messages.uncounted_skills(detail, "en")["SK-1"] == (
        "does not count: level junior is below intermediate"
    )
    assert (
        messages.uncounted_skills("skill certificates: 1 of 1 at level junior or above", "zh") == {}
    )
