"""The gateway's read model as one batch sees it: students, the timeline, decisions and
their history, and the submissions other services hold."""

from __future__ import annotations

from datetime import datetime

from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.table import Table

STATUS_BY_EVENT = {
    "student.suspended": "suspended",
    "student.resumed": "enrolled",
    "student.withdrawn": "withdrawn",
}


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

    def projection_tables(self) -> list[Table]:
        return [
            self.students,
            self.timeline,
            self.decisions,
            self.decision_history,
            self.held_submissions,
        ]

    def owner(self, student_id: str) -> str | None:
        row = self.students.get(student_id)
        return row["school_id"] if row else None


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)
