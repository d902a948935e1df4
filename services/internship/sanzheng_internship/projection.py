"""The internship projection as one batch sees it: one row per internship (with its
flagged breaches), found by student and by the internship ids the batch names.

Employers are shared between students (the quota rule counts an employer's interns), so
they are locked like students, and their other active interns are counted in one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sanzheng_internship.rules import EmployerLoad
from sanzheng_shared import pending
from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.table import Row, Table
from sanzheng_shared.events.catalogue import InternshipStarted
from sanzheng_shared.events.envelope import CloudEvent


def employer_key(employer_id: str) -> str:
    return f"employer:{employer_id}"


class InternshipState(ProjectionState):
    keeps_known_students = True

    def __init__(self) -> None:
        super().__init__()
        self.internships = Table("internships", key=("internship_id",), json_columns=("flags",))
        self._employers: list[str] = []
        self._elsewhere: dict[tuple[str, str], int] = {}

    def projection_tables(self) -> list[Table]:
        return [self.internships]

    def lock_keys(self, events: Sequence[CloudEvent]) -> Iterable[str]:
        employers = {
            (e.data or {}).get("employer_id") for e in events if e.type == "internship.started"
        }
        self._employers = sorted(x for x in employers if isinstance(x, str))
        return map(employer_key, self._employers)

    async def load_more(self, conn: Any, students: list[str], events: Sequence[CloudEvent]) -> None:
        ids = sorted(
            {i for e in events if isinstance(i := (e.data or {}).get("internship_id"), str)}
        )
        if ids:
            await self.internships.load(conn, "internship_id = ANY($1::text[])", ids)
            # A completion another student sent first waits for this internship's start.
            await self.pending.load(
                conn,
                "waiting_for = ANY($1::text[])",
                [pending.waiting_for_internship(i) for i in ids],
            )
        if self._employers:
            # Active post interns at these employers that the batch did not load: counted,
            # not loaded (a large employer has many).
            rows = await conn.fetch(
                "SELECT employer_id, post_title, count(*) AS n FROM internships"
                " WHERE kind = 'post' AND status = 'active' AND employer_id = ANY($1::text[])"
                " AND NOT (internship_id = ANY($2::text[])) GROUP BY employer_id, post_title",
                self._employers,
                [r["internship_id"] for r in self.internships],
            )
            self._elsewhere = {(r["employer_id"], r["post_title"]): r["n"] for r in rows}

    def load_for(self, student_id: str, s: InternshipStarted) -> EmployerLoad:
        """What the quota and duration rules count, besides this internship itself."""

        def counted(row: Row) -> bool:
            return (
                row["kind"] == "post"
                and row["status"] != "terminated"
                and row["internship_id"] != s.internship_id
                and (row["status"] == "active" or row["student_id"] == student_id)
            )

        here = [r for r in self.internships if counted(r) and r["employer_id"] == s.employer_id]
        elsewhere = {k: n for k, n in self._elsewhere.items() if k[0] == s.employer_id}
        own = [r for r in self.internships.of_student(student_id) if counted(r)]
        return EmployerLoad(
            at_employer=len(here) + sum(elsewhere.values()),
            on_post=sum(1 for r in here if r["post_title"] == s.post_title)
            + elsewhere.get((s.employer_id, s.post_title), 0),
            student_post_days=sum((r["planned_end_on"] - r["start_on"]).days for r in own),
        )
