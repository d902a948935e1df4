"""The credit bank (学分银行, SPEC §2.6), as pure functions.

A completed course is valid when its practice hours fit in its class hours (`CRS_HOURS`) and
its credits agree with its hours (`CRS_CREDITS`: by default 16-18 class hours make a credit,
within half a credit). The same course completed twice counts once, with the better result
(`CRS_DUPLICATE`): a retake is recorded either way, and counts only when it beats the attempt
that counts now. A recognized credit counts once: recognizing an id that is already
recognized (and not revoked) is rejected with `CRS_DUPLICATE`.
"""

from __future__ import annotations

from typing import Any

from sanzheng_shared.events.catalogue import CourseCompleted
from sanzheng_shared.events.envelope import Reason
from sanzheng_shared.policy.model import CreditsPolicy


def hours_rule(d: CourseCompleted) -> list[Reason]:
    if d.practice_hours > d.class_hours:
        return [
            Reason(
                "CRS_HOURS",
                f"practice hours are part of the class hours: {d.practice_hours:g} practice "
                f"hours exceed {d.class_hours:g} class hours",
                "practice_hours",
            )
        ]
    return []


def credit_range(class_hours: float, policy: CreditsPolicy) -> tuple[float, float]:
    """The credits that `class_hours` may carry under the policy."""
    low = class_hours / policy.max_hours_per_credit - policy.tolerance
    high = class_hours / policy.min_hours_per_credit + policy.tolerance
    return max(low, 0.0), high


def credits_rule(d: CourseCompleted, policy: CreditsPolicy) -> list[Reason]:
    low, high = credit_range(d.class_hours, policy)
    if not low <= d.credits <= high:
        return [
            Reason(
                "CRS_CREDITS",
                f"{policy.min_hours_per_credit:g}-{policy.max_hours_per_credit:g} class hours "
                f"make a credit: {d.class_hours:g} class hours carry {low:g}-{high:g} credits, "
                f"not {d.credits:g}",
                "credits",
            )
        ]
    return []


def check_course(d: CourseCompleted, policy: CreditsPolicy) -> list[Reason]:
    return hours_rule(d) + credits_rule(d, policy)


def result_key(passed: bool | None, score: float | None) -> tuple[bool, float]:
    """How attempts compare: a pass beats a fail, then the higher score."""
    return bool(passed), -1.0 if score is None else float(score)


def better_than(new: CourseCompleted, counted: dict[str, Any] | None) -> bool:
    """CRS_DUPLICATE: does a (re)take of a course count instead of the attempt that counts
    now? Only when its result is strictly better; a tie keeps the earlier attempt."""
    if counted is None:
        return True
    return result_key(new.passed, new.score) > result_key(counted["passed"], counted["score"])


def recognition_twice(recognition_id: str, current: dict[str, Any] | None) -> list[Reason]:
    if current is not None and not current["revoked"]:
        return [
            Reason(
                "CRS_DUPLICATE",
                f"credit {recognition_id} is already recognized (counted once); revoke it "
                f"before recognizing it again",
                "recognition_id",
            )
        ]
    return []


def revocable(recognition_id: str, current: dict[str, Any] | None) -> list[Reason]:
    if current is None or current["revoked"]:
        state = "was never recognized" if current is None else "is already revoked"
        return [
            Reason(
                "CRS_UNKNOWN_RECOGNITION",
                f"credit {recognition_id} {state}",
                "recognition_id",
            )
        ]
    return []
