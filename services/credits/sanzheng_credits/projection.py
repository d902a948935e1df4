"""The credits projection as one batch sees it: completed courses (each attempt, with
whether it counts) and recognized credit (with its evidence, until revoked) per student."""

from __future__ import annotations

from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.table import Table


class CreditsState(ProjectionState):
    keeps_known_students = True

    def __init__(self) -> None:
        super().__init__()
        self.courses = Table("courses", key=("event_source", "event_id"))
        self.recognitions = Table(
            "recognitions", key=("student_id", "recognition_id"), json_columns=("evidence",)
        )

    def projection_tables(self) -> list[Table]:
        return [self.courses, self.recognitions]
