"""The enrollment projection as one batch sees it: one row per student, the history of
status changes, and the students found by national-id fingerprint (a key shared between
students, so it is locked like a student)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sanzheng_enrollment.privacy import NationalIdVault, vault
from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.table import Table
from sanzheng_shared.events.catalogue import data_text, event_data
from sanzheng_shared.events.envelope import CloudEvent


def fingerprint_key(fingerprint: str) -> str:
    return f"national_id:{fingerprint}"


def transfer_key(transfer_id: str) -> str:
    return f"transfer:{transfer_id}"


class EnrollmentState(ProjectionState):
    held_with_keys = ("student.transferred",)  # held until its student is known
    released_by = ("student.enrolled",)

    def __init__(self) -> None:
        super().__init__()
        self.students = Table("students", key=("student_id",))
        self.status_changes = Table(
            "status_changes", key=("event_source", "event_id"), append_only=True
        )
        self.transfers = Table("transfers", key=("transfer_id",))
        self._fingerprints: list[str] = []
        self._transfers: list[str] = []

    def projection_tables(self) -> list[Table]:
        return [self.students, self.status_changes, self.transfers]

    def lock_keys(self, events: Sequence[CloudEvent]) -> Iterable[str]:
        self._fingerprints = sorted(set(filter(None, map(self._fingerprint, events))))
        # A transfer id is one transfer's, of one student: another student's use of it is
        # refused, which needs its row, whoever's it is.
        self._transfers = sorted(
            {
                t
                for e in events
                if e.type == "student.transferred"
                and (t := data_text(event_data(e).get("transfer_id")))
            }
        )
        return [*map(fingerprint_key, self._fingerprints), *map(transfer_key, self._transfers)]

    def _fingerprint(self, event: CloudEvent) -> str | None:
        number = event_data(event).get("national_id") if event.type == "student.enrolled" else None
        if not isinstance(number, str):
            return None
        try:
            return vault().fingerprint(NationalIdVault.validate(number))
        except ValueError:
            return None

    async def load_more(self, conn: Any, students: list[str], events: Sequence[CloudEvent]) -> None:
        if self._fingerprints:
            await self.students.load(conn, "national_id_hmac = ANY($1::text[])", self._fingerprints)
        if self._transfers:
            await self.transfers.load(conn, "transfer_id = ANY($1::text[])", self._transfers)

    def holder_of(self, fingerprint: str) -> Any:
        return next(iter(self.students.find("national_id_hmac", fingerprint)), None)

    def owner(self, student_id: str) -> str | None:
        row = self.students.get(student_id)
        return row["school_id"] if row else None
