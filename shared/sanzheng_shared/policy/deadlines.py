"""When each requirement is due, and how early it is at risk (SPEC §2.5): policy data.

A due date is anchored in the student's lifecycle (so a suspension moves it): the June of
the 2nd school year for the labor month (the seed plan: 二年级学生在当年6月), 31 May of the
final year for the post internship (it ends before graduation), the expected graduation
day for everything else. A requirement not met within `warning_days` of its due date is at
risk (unless something is in progress); past it, overdue.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DueAnchor = Literal["second_year_june", "final_year_may", "graduation"]


class Deadline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    anchor: DueAnchor = "graduation"  # not `on`: YAML 1.1 reads that key as true
    warning_days: int | None = Field(default=None, ge=0, le=366)
    """Days before the due date from which an unmet requirement is at risk (unset: the
    policy's default)."""


_AT_GRADUATION = Deadline()
"""Built once: a model per call was a fifth of a graduation decision's cost."""


class DeadlinePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warning_days: int = Field(default=45, ge=0, le=366)
    due: dict[str, Deadline] = {
        # 30 June less 46 days is 15 May: no placement by then, the month is at risk.
        "LABOR_MONTH": Deadline(anchor="second_year_june", warning_days=46),
        "INTERNSHIP": Deadline(anchor="final_year_may"),
    }

    def of(self, code: str) -> tuple[DueAnchor, int]:
        """(anchor, warning days) of a requirement; unlisted ones are due at graduation."""
        found = self.due.get(code) or _AT_GRADUATION
        warning = found.warning_days if found.warning_days is not None else self.warning_days
        return found.anchor, warning
