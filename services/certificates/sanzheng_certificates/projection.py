"""The certificates service's projection as one batch sees it: the certificates it owns,
the facts it mirrors from the other services, and the last decision per student.

Certificate numbers are shared between students (the same number twice is one
certificate; another student's claim is refused), so they are locked and loaded by number
as well as by student.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sanzheng_certificates.academic import CourseFact, CreditFact
from sanzheng_certificates.deadlines import Lifecycle
from sanzheng_certificates.graduation import Certificate, InternshipFact, StudentRecord
from sanzheng_certificates.waivers import Waiver
from sanzheng_shared.domain.school_year import expected_graduation
from sanzheng_shared.engine.state import ProjectionState
from sanzheng_shared.engine.table import Table
from sanzheng_shared.events.catalogue import data_text, event_data
from sanzheng_shared.events.envelope import CloudEvent

CERTIFICATE_EVENTS = ("certificate.earned", "certificate.revoked")


def certificate_key(number: str) -> str:
    return f"certificate:{number}"


class CertificatesState(ProjectionState):
    keeps_known_students = True
    held_with_keys = ("certificate.earned",)  # a diploma claims its number when released

    def __init__(self) -> None:
        super().__init__()
        self.certificates = Table("certificates", key=("certificate_no",))
        self.revocations = Table("revocations", key=("certificate_no",))
        self.internships = Table("internships", key=("internship_id",), json_columns=("flags",))
        self.internship_rejections = Table(
            "internship_rejections", key=("internship_id", "student_id")
        )
        self.labor_records = Table("labor_records", key=("event_id",))
        self.waivers = Table("waivers", key=("waiver_id",))
        self.waiver_revocations = Table("waiver_revocations", key=("waiver_id",))
        self.decisions = Table("decisions", key=("student_id",), json_columns=("requirements",))
        # The credit bank's facts, for ACADEMIC (credits.events).
        self.courses = Table("courses", key=("event_id",))
        self.credit_recognitions = Table("credit_recognitions", key=("event_id",))
        self.credit_revocations = Table("credit_revocations", key=("event_id",))
        self.programs = Table("programs", key=("student_id",))
        self._numbers: list[str] = []

    def projection_tables(self) -> list[Table]:
        return [
            self.certificates,
            self.revocations,
            self.internships,
            self.internship_rejections,
            self.labor_records,
            self.waivers,
            self.waiver_revocations,
            self.decisions,
            self.courses,
            self.credit_recognitions,
            self.credit_revocations,
            self.programs,
        ]

    def lock_keys(self, events: Sequence[CloudEvent]) -> Iterable[str]:
        # As the event's data model reads it: " N-1" claims the number "N-1".
        numbers = {
            data_text(event_data(e).get("certificate_no"))
            for e in events
            if e.type in CERTIFICATE_EVENTS
        }
        self._numbers = sorted(n for n in numbers if n)
        return map(certificate_key, self._numbers)

    async def load_more(self, conn: Any, students: list[str], events: Sequence[CloudEvent]) -> None:
        if self._numbers:
            for table in (self.certificates, self.revocations):
                await table.load(conn, "certificate_no = ANY($1::text[])", self._numbers)

    def record(self, student_id: str) -> StudentRecord:
        """Every fact about one student, as the graduation decision reads them."""
        student = self.known.get(student_id) if self.known is not None else None
        labor = self.labor_records.of_student(student_id)
        return StudentRecord(
            enrolled=student is not None,
            status=student["status"] if student else None,
            certificates=tuple(
                Certificate(
                    c["certificate_no"],
                    c["kind"],
                    c["level"],
                    c["issuer_type"],
                    self.revocations.get(c["certificate_no"]) is not None,
                )
                for c in self.certificates.of_student(student_id)
                # One sent by another school before the student was known never counts.
                if student is None or c["school_id"] in (None, student["school_id"])
            ),
            internships=tuple(
                InternshipFact(
                    i["internship_id"],
                    i["kind"],
                    i["status"],
                    float(i["hours"] or 0),
                    i["evaluation"],
                    i.get("start_on"),
                    i.get("planned_end_on"),
                    i.get("weekly_hours"),
                )
                for i in self.internships.of_student(student_id)
            ),
            labor_completed=any(r["kind"] == "completed" for r in labor),
            waivers=self.waivers_of(student_id),
            lifecycle=Lifecycle(
                student["cohort"],
                student["years_behind"] or 0,
                student["expected_graduation"]
                or expected_graduation(student["cohort"], student["program_years"]),
            )
            if student
            else None,
            rejected_internships=tuple(
                (r["internship_id"], tuple(r["codes"]))
                for r in self.internship_rejections.of_student(student_id)
            ),
            **self._academic(student_id),
        )

    def _academic(self, student_id: str) -> dict[str, Any]:
        program = self.programs.get(student_id)
        revoked = {r["revokes"] for r in self.credit_revocations.of_student(student_id)}
        return {
            "major_code": program["major_code"] if program else None,
            "courses": tuple(
                CourseFact(
                    c["event_id"],
                    c["category"],
                    float(c["class_hours"]),
                    float(c["practice_hours"]),
                    float(c["credits"]),
                    c["passed"],
                    c["counted"],
                    c["replaces"],
                )
                for c in sorted(self.courses.of_student(student_id), key=lambda c: c["event_id"])
            ),
            "credits": tuple(
                CreditFact(
                    r["event_id"], r["category"], float(r["credits"]), r["event_id"] in revoked
                )
                for r in sorted(
                    self.credit_recognitions.of_student(student_id), key=lambda r: r["event_id"]
                )
            ),
        }

    def waivers_of(self, student_id: str) -> tuple[Waiver, ...]:
        revoked = {r["waiver_id"]: r for r in self.waiver_revocations.of_student(student_id)}
        return tuple(
            Waiver(
                w["waiver_id"],
                w["requirement"],
                w["reason_category"],
                w["reason"],
                w["approver_name"],
                w["approver_role"],
                w["granted_on"],
                w["expires_on"],
                revoked[w["waiver_id"]]["on_date"] if w["waiver_id"] in revoked else None,
            )
            for w in sorted(self.waivers.of_student(student_id), key=lambda w: w["waiver_id"])
        )

    def finish(self, ctx: Any) -> None:
        from sanzheng_certificates.decisions import decide_touched

        decide_touched(self, ctx)
