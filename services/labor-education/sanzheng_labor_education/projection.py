"""The labor-education projection as one batch sees it: accepted months and exemptions
per student (append-only: a record is never changed, only added)."""

from __future__ import annotations

from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.table import Table


class LaborState(ProjectionState):
    keeps_known_students = True

    def __init__(self) -> None:
        super().__init__()
        self.labor_records = Table(
            "labor_records", key=("event_source", "event_id"), append_only=True
        )

    def projection_tables(self) -> list[Table]:
        return [self.labor_records]
