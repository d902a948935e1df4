"""A service's projection as one batch sees it: load in bulk, fold in memory, save in bulk.

Each service subclasses `ProjectionState` with its own tables (and, where a rule needs
them, rows found by keys other than the student: a certificate number, an internship id).
The batch processor locks the batch's students, then calls, in this order: `load` (which
asks `lock_keys` what to lock besides the students, and locks it), the handlers (the fold),
`finish` (once per batch: e.g. decide graduation once per student), `save`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from sanzheng_shared.engine.columns import Catalog
from sanzheng_shared.engine.locks import lock
from sanzheng_shared.engine.table import Table, load_students
from sanzheng_shared.events.envelope import CloudEvent


class ProjectionState:
    catalog: ClassVar[Catalog] = Catalog()
    """The columns of this service's tables (each subclass has its own)."""
    keeps_known_students = False
    """Services that check rules against students they do not own keep `known_students`."""
    keeps_student_sex = False
    """Only a service whose rules need the student's sex keeps it (data minimisation)."""
    held_with_keys: ClassVar[tuple[str, ...]] = ()
    """Types of the submissions it holds for a student whose release takes keys shared
    between students (a diploma its number, an internship's start its employer)."""
    released_by: ClassVar[tuple[str, ...] | None] = None
    """The types of the events that release those (None: any event of the student may);
    only a batch with one reads its students' held submissions."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.catalog = Catalog()

    def __init__(self) -> None:
        self.pending = Table("pending", key=("seq",), serial="seq", json_columns=("event",))
        self.known: Table | None = (
            Table("known_students", key=("student_id",)) if self.keeps_known_students else None
        )

    # --- what the service declares ------------------------------------------------------
    def projection_tables(self) -> list[Table]:
        """The service's own tables (rebuilt by `sanzheng replay`)."""
        return []

    def lock_keys(self, events: Sequence[CloudEvent]) -> Iterable[str]:
        """Keys shared between students that these events may take (the batch's, and the
        submissions held for its students). Values as the event's data model reads them
        (stripped, compacted): a key spelled otherwise would lock and load nothing."""
        return ()

    async def load_more(self, conn: Any, students: list[str], events: Sequence[CloudEvent]) -> None:
        """Rows found by other keys than the student (after the students' rows are loaded)."""

    def owner(self, student_id: str) -> str | None:
        """The school the student belongs to, when this service knows it."""
        row = self.known.get(student_id) if self.known is not None else None
        return row["school_id"] if row else None

    def finish(self, ctx: Any) -> None:
        """Once per batch, after every event is folded."""

    # --- what the engine calls ----------------------------------------------------------
    def tables(self) -> list[Table]:
        platform = [self.pending] + ([self.known] if self.known is not None else [])
        return platform + self.projection_tables()

    def loaded_by_student(self) -> list[Table]:
        return [t for t in self.tables() if t.student is not None and t.loaded]

    async def prepare(self, conn: Any) -> None:
        """Read what loading needs to know of the tables, once (the engine does it before
        a service's first batch, outside the batch's transaction)."""
        await self.catalog.read(conn, [t.name for t in self.loaded_by_student()])

    async def load(self, conn: Any, students: list[str], events: Sequence[CloudEvent]) -> None:
        """Lock the keys shared between students that the batch may take, then load the
        students' rows (their locks are held already) and the rows found by those keys.

        The shared keys are those of the batch's events and of the submissions held for its
        students: the batch may release those (their student comes through, or becomes
        eligible), and a released one takes keys like any event, e.g. the number a held
        diploma claims or the employer whose interns a held start counts. Those are read
        first (under the students' locks, nobody else changes them), then every shared key
        is locked, and only then is anything loaded: a row read before a wait for a key
        could be changed meanwhile by the batch that held the key. Every batch locks its
        students first and its shared keys after: one order for all, in which no two batches
        deadlock."""
        everything = await self.lock_shared(conn, students, events)
        if students:
            await self.prepare(conn)
            await load_students(conn, self.loaded_by_student(), students, self.catalog)
        await self.load_more(conn, students, everything)

    async def lock_shared(
        self, conn: Any, students: list[str], events: Sequence[CloudEvent]
    ) -> list[CloudEvent]:
        """Lock every key shared between students that these events and the submissions
        held for their (already locked) students may take; returns those events and
        submissions. A batch applied one event at a time calls it before its first event:
        each event locking its own in turn would lock in event order, and a batch locking
        in sorted order meanwhile could deadlock with it."""
        everything = [*events, *await self._held(conn, students, events)]
        await lock(conn, self.lock_keys(everything))
        return everything

    async def _held(
        self, conn: Any, students: list[str], events: Sequence[CloudEvent]
    ) -> list[CloudEvent]:
        if not self.held_with_keys:
            return []
        if self.released_by is not None:
            releasing = {e.subject for e in events if e.type in self.released_by}
            students = [s for s in students if s in releasing]
        if not students:
            return []
        rows = await conn.fetch(
            "SELECT event FROM pending WHERE student_id = ANY($1::text[])"
            " AND event->>'type' = ANY($2::text[]) ORDER BY seq",
            students,
            list(self.held_with_keys),
        )
        held = []
        for row in rows:
            try:
                held.append(CloudEvent.model_validate_json(row["event"]))  # jsonb as text
            except ValidationError:
                continue  # not an event any more: it names no key to take
        return held

    async def save(self, conn: Any) -> None:
        for table in self.tables():
            await table.save(conn)
