"""ACADEMIC (学业合格, SPEC §2.5): the academic program is completed, read from the credit
bank's facts (SPEC §2.6), as pure functions.

Met when the credits reach the program's minimum, each course category its minimum, and
practice hours are more than the policy's share (half) of the class hours — the seed's
"保证实践性教学课时占总课时一半以上" (三(三)2).

What counts: a course attempt the credits service marked `counted` and no later attempt
`replaces` (CRS_DUPLICATE keeps the better result); its hours count whether it was passed
or not (they were taught), its credits only when passed. Recognized credit (transfer, a
converted certificate, prior learning) counts its credits until it is revoked; its
practice hours are not class hours of this program, so they stay out of the share (the
same reading as the gateway's learning account).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sanzheng_shared.policy import Requirement

CATEGORIES = ("public-basic", "professional", "practice")


@dataclass(frozen=True)
class CourseFact:
    event_id: str  # the canonical course.completed on credits.events
    category: str
    class_hours: float
    practice_hours: float
    credits: float
    passed: bool
    counted: bool = True
    replaces: str | None = None


@dataclass(frozen=True)
class CreditFact:
    event_id: str  # the canonical credit.recognized
    category: str
    credits: float
    revoked: bool = False


@dataclass(frozen=True)
class Standing:
    """The academic figures of one student."""

    credits: float
    credits_by_category: dict[str, float]
    class_hours: float
    practice_hours: float


def counted_courses(courses: tuple[CourseFact, ...]) -> list[CourseFact]:
    """Attempts that count: marked counted, and not replaced by a better retake (order of
    arrival does not matter: the replacing attempt names the one it replaces)."""
    replaced = {c.replaces for c in courses if c.replaces}
    return [c for c in courses if c.counted and c.event_id not in replaced]


def standing(courses: tuple[CourseFact, ...], credits: tuple[CreditFact, ...]) -> Standing:
    by_category = dict.fromkeys(CATEGORIES, 0.0)
    class_hours = practice_hours = 0.0
    for c in counted_courses(courses):
        class_hours += c.class_hours
        practice_hours += c.practice_hours
        if c.passed:
            by_category[c.category] = by_category.get(c.category, 0.0) + c.credits
    for r in credits:
        if not r.revoked:
            by_category[r.category] = by_category.get(r.category, 0.0) + r.credits
    return Standing(sum(by_category.values()), by_category, class_hours, practice_hours)


def practice_hours_needed(s: Standing, share: float) -> int:
    """Whole practice hours to add (each also a class hour) until practice is more than
    `share` of the class hours: the least x with (p + x) / (c + x) > share."""
    if s.class_hours and s.practice_hours / s.class_hours > share:
        return 0
    return math.floor((share * s.class_hours - s.practice_hours) / (1 - share)) + 1


def _percent(part: float, whole: float) -> str:
    # Rounded down: 49.96% must not read as a met 50%.
    return f"{math.floor(part / whole * 1000) / 10:g}%"


def assess(
    courses: tuple[CourseFact, ...],
    credits: tuple[CreditFact, ...],
    major_code: str | None,
    r: Requirement,
) -> tuple[bool, str]:
    """Whether the program is completed, and a detail that says what is still needed."""
    s = standing(courses, credits)
    minimum = r.credits_for(major_code)
    total = f"credits {s.credits:g} of {minimum:g}"
    short: list[str] = []
    if not s.class_hours:
        short.append("no completed course recorded")
    else:
        needed = practice_hours_needed(s, r.min_practice_share)
        if needed:
            short.append(
                f"practice {_percent(s.practice_hours, s.class_hours)} of "
                f"{s.class_hours:,.0f} class hours, {needed:,} more practice hours needed"
            )
    if s.credits < minimum:
        short.append(total)
    for category, least in r.min_category_credits.items():
        have = s.credits_by_category.get(category, 0.0)
        if have < least:
            short.append(f"{category} credits {have:g} of {least:g}")
    if short:
        return False, "academic program not completed: " + "; ".join(short)
    practice = _percent(s.practice_hours, s.class_hours)
    return True, (
        f"academic program completed: {total}; practice {practice} of "
        f"{s.class_hours:,.0f} class hours"
    )
