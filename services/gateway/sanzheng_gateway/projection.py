"""The gateway's read model as one batch sees it: students, the timeline, decisions and
their history, and the submissions other services hold.

A student belongs to the school that enrolled it: nothing here moves a record to another
school except an accepted `student.transferred`. An event that names another school for a
known student changes nothing (the domain services reject those; this is the read
model's own guard)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.table import Table

STATUS_BY_EVENT = {
    "student.suspended": "suspended",
    "student.resumed": "enrolled",
    "student.withdrawn": "withdrawn",
    "student.graduated": "graduated",
}

# The birth date is never shown (with the masked form it rebuilds a national id); the
# students table keeps it for the age, the timeline does not need it.
# The sex (from the national id, for the internship rules) is personal data no list or
# timeline shows.
UNSTORED_FIELDS = ("birth_date", "sex")


def last_four(masked: str | None) -> str | None:
    """At most the last four characters, whatever an (older) producer sent."""
    return "*" * 14 + masked[-4:] if masked else None


def timeline_data(data: dict[str, Any] | None) -> dict[str, Any]:
    kept = {k: v for k, v in (data or {}).items() if k not in UNSTORED_FIELDS}
    if kept.get("national_id_masked"):
        kept["national_id_masked"] = last_four(kept["national_id_masked"])
    return kept


class GatewayState(ProjectionState):
    def __init__(self) -> None:
        super().__init__()
        self.students = Table("students", key=("student_id",))
        # Written, never read by the fold: not loaded.
        self.timeline = Table(
            "timeline", key=("event_id",), json_columns=("data",), append_only=True, loaded=False
        )
        self.decisions = Table("decisions", key=("student_id",), json_columns=("requirements",))
        self.decision_history = Table(
            "decision_history",
            key=("event_id",),
            loaded=False,
            json_columns=("requirements",),
            append_only=True,
        )
        self.held_submissions = Table("held_submissions", key=("source", "id"))
        self.warnings = Table("warnings", key=("student_id", "requirement"))
        self.warning_feed = Table(
            "warning_feed",
            key=("event_id",),
            json_columns=("data",),
            append_only=True,
            loaded=False,
        )

    def projection_tables(self) -> list[Table]:
        return [
            self.students,
            self.timeline,
            self.decisions,
            self.decision_history,
            self.held_submissions,
            self.warnings,
            self.warning_feed,
        ]

    def owner(self, student_id: str) -> str | None:
        row = self.students.get(student_id)
        return row["school_id"] if row else None

    def other_school(self, student_id: str | None, school: str | None) -> bool:
        """True when the event names another school than the known student's."""
        owner = self.owner(student_id) if student_id else None
        return owner is not None and owner != school


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)
