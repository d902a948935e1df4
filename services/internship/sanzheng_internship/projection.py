"""The internship projection as one batch sees it: one row per internship (with its
flagged breaches), found by student and by the internship ids the batch names.

Employers are shared between students (the quota rule counts an employer's interns), so
they are locked like students. The quota counts other students' `post` internships at the
employer whose dates overlap the new one's start (planned end, or the actual end once it
ended): those the batch did not load are fetched in one query, bounded by the batch's
start dates.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sanzheng_internship.rules import EmployerLoad
from sanzheng_shared import pending
from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.table import Row, Table
from sanzheng_shared.events.catalogue import InternshipStarted, check_uscc, data_text, event_data
from sanzheng_shared.events.envelope import CloudEvent


def employer_key(employer_id: str) -> str:
    return f"employer:{employer_id}"


def internship_key(internship_id: str) -> str:
    return f"internship:{internship_id}"


class InternshipState(ProjectionState):
    keeps_known_students = True
    keeps_student_sex = True  # Art. 16(4): work banned for female workers
    held_with_keys = ("internship.started",)  # released, it counts its employer's interns
    released_by = ("student.enrolled",)  # held only until the student is known

    def __init__(self) -> None:
        super().__init__()
        self.internships = Table("internships", key=("internship_id",), json_columns=("flags",))
        self.cancellations = Table("cancellations", key=("internship_id",))
        self._employers: list[str] = []
        self._starts: list[date] = []
        self._internships: list[str] = []
        self._elsewhere = RunningInterns([])
        """other students' post internships the quota counts (fetched once)"""

    def projection_tables(self) -> list[Table]:
        return [self.internships, self.cancellations]

    def lock_keys(self, events: Sequence[CloudEvent]) -> Iterable[str]:
        # Each value as the event's data model reads it (stripped; an employer's code
        # compacted): a key spelled otherwise would lock and load nothing.
        started = [event_data(e) for e in events if e.type == "internship.started"]
        self._employers = sorted({e for d in started if (e := _employer(d.get("employer_id")))})
        self._starts = sorted({s for d in started if (s := _date(d.get("start_on")))})
        # An internship is named by its start and its end, which two students' batches may
        # carry (a completion sent under the wrong student): without a lock of its own, a
        # start would not see a completion held by a batch not committed yet, and the hold
        # would wait forever instead of being refused.
        self._internships = _internship_ids(events)
        return [*map(employer_key, self._employers), *map(internship_key, self._internships)]

    async def load_more(self, conn: Any, students: list[str], events: Sequence[CloudEvent]) -> None:
        ids = self._internships
        if ids:
            await self.internships.load(conn, "internship_id = ANY($1::text[])", ids)
            await self.cancellations.load(conn, "internship_id = ANY($1::text[])", ids)
            # A completion another student sent first waits for this internship's start.
            # That student's lock is not taken: FOR UPDATE makes the held-notice sweep wait
            # for this batch (or this batch for it), so a release sees whether its hold was
            # announced.
            await self.pending.load(
                conn,
                "waiting_for = ANY($1::text[]) FOR UPDATE",
                [pending.waiting_for_internship(i) for i in ids],
            )
        if self._employers and self._starts:
            # Other post internships at these employers running on some start date of the
            # batch: fetched (not loaded into the identity map), only their dates matter.
            rows = await conn.fetch(
                "SELECT internship_id, student_id, employer_id, post_kind, start_on,"
                " coalesce(end_on, planned_end_on) AS last_on FROM internships"
                " WHERE kind = 'post' AND status IN ('active', 'completed')"
                " AND employer_id = ANY($1::text[]) AND start_on <= $3"
                " AND coalesce(end_on, planned_end_on) >= $2"
                " AND NOT (internship_id = ANY($4::text[]))",
                self._employers,
                self._starts[0],
                self._starts[-1],
                [r["internship_id"] for r in self.internships],
            )
            self._elsewhere = RunningInterns(rows)

    def load_for(self, student_id: str, s: InternshipStarted, post_kind: str) -> EmployerLoad:
        """What the quota and duration rules count, besides this internship itself: other
        students' post interns at the employer on the new start date (a student's own
        earlier placement is not a concurrent intern; `post_kind` is what "the same post"
        compares), and the student's own post days."""

        def running(row: Row) -> bool:
            last = row.get("last_on") or row.get("end_on") or row["planned_end_on"]
            return (
                row["student_id"] != student_id
                and row["internship_id"] != s.internship_id
                and row["employer_id"] == s.employer_id
                and row["start_on"] <= s.start_on <= last
            )

        # Only rows at this employer can be running there: they are looked up by it, not
        # scanned all for every start of the batch (quadratic in the batch).
        here = [
            r
            for r in self.internships.find("employer_id", s.employer_id)
            if r["kind"] == "post" and r["status"] in ("active", "completed") and running(r)
        ]
        own = [
            r
            for r in self.internships.of_student(student_id)
            if r["kind"] == "post"
            and r["status"] in ("active", "completed")
            and r["internship_id"] != s.internship_id
        ]
        return EmployerLoad(
            at_employer=len(here) + self._elsewhere.on(s.employer_id, None, s.start_on),
            on_post=sum(1 for r in here if r["post_kind"] == post_kind)
            + self._elsewhere.on(s.employer_id, post_kind, s.start_on),
            student_post_days=sum((r["planned_end_on"] - r["start_on"]).days for r in own),
        )


_DATE = TypeAdapter(date)


def _date(value: Any) -> date | None:
    try:
        return _DATE.validate_python(value) if value is not None else None
    except ValidationError:
        return None


def _employer(value: Any) -> str | None:
    try:
        return check_uscc(text) if (text := data_text(value)) else None
    except ValueError:
        return None  # the start is refused for it


def _internship_ids(events: Sequence[CloudEvent]) -> list[str]:
    return sorted({i for e in events if (i := data_text(event_data(e).get("internship_id")))})


_ANY_POST = object()
"""The key of an employer's interns on any post (not None, which a row without a kind of
post, from before that column, would share)."""


class RunningInterns:
    """The post internships of other students at the batch's employers, as fetched: how
    many run on a day, at an employer (and on a kind of post). A large employer has
    thousands of them, and a batch asks once per start: each count is two binary searches
    in the sorted first and last days, not a scan of them all.

    Running on `day` is `start_on <= day <= last_on`. A row ending before it starts runs on
    no day and is left out; for the others, those with `start_on <= day` less those with
    `last_on < day` (which started before too) are the ones running."""

    def __init__(self, rows: Iterable[Any]) -> None:
        days: dict[tuple[str, object], tuple[list[date], list[date]]] = {}
        for r in rows:
            if r["last_on"] < r["start_on"]:
                continue
            for key in ((r["employer_id"], _ANY_POST), (r["employer_id"], r["post_kind"])):
                first, last = days.setdefault(key, ([], []))
                first.append(r["start_on"])
                last.append(r["last_on"])
        for first, last in days.values():
            first.sort()
            last.sort()
        self._days = days

    def on(self, employer_id: str, post_kind: str | None, day: date) -> int:
        """How many run on `day` at the employer (`post_kind=None`: on any post)."""
        key = (employer_id, _ANY_POST if post_kind is None else post_kind)
        first, last = self._days.get(key, ((), ()))
        return bisect_right(first, day) - bisect_left(last, day)
