"""Issue 11 through the running services: the 2021 internship regulation and the student
lifecycle as written (SPEC §2.1-2.3)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from sanzheng_shared.testing import (
    cloudevent,
    enrolled,
    eventually,
    fetch,
    lawful_post_internship,
    read_events,
)
from tests.e2e.conftest import Domain
from tests.e2e.test_domain import certificate, completed, labor, lifecycle, program

pytestmark = pytest.mark.slow


def sid() -> str:
    return f"STU{uuid.uuid4().hex[:10].upper()}"


def national_id(birth: str, sex: str) -> str:
    """A checksum-valid 身份证号 whose 17th digit is odd for a man, even for a woman."""
    body = f"110105{birth.replace('-', '')}{uuid.uuid4().int % 90 + 10}{3 if sex == 'M' else 4}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def started(student: str, internship_id: str, **overrides: Any) -> dict[str, Any]:
    data = lawful_post_internship(internship_id, **overrides)
    return cloudevent("internship.started", student, data) | {"dataversion": "2"}


async def codes_of(domain: Domain, student: str, count: int = 1) -> list[set[tuple[str, str]]]:
    rejections = await eventually(lambda: domain.rejections(student), lambda r: len(r) >= count)
    return [{(r["code"], r["field"]) for r in x["data"]["reasons"]} for x in rejections]


async def test_a_first_year_follow_internship_is_refused_like_any_post_one(domain: Domain) -> None:
    student = sid()
    await domain.send("enrollment", enrolled(student, cohort=2025, birth_date="2010-03-01"))
    legacy = cloudevent(
        "internship.started",
        student,
        lawful_post_internship("I-F", kind="跟岗", start_on="2025-11-01", mode=None),
    )  # dataversion 1, as an old producer sends it
    await domain.send("internship", legacy)
    [reasons] = await codes_of(domain, student)
    assert {"INT_MIN_AGE", "INT_FIRST_YEAR"} <= {code for code, _ in reasons}


async def test_a_female_student_is_kept_from_work_banned_for_women(domain: Domain) -> None:
    woman, man = sid(), sid()
    for student, sex in ((woman, "F"), (man, "M")):
        birth = "2007-03-01"
        number = national_id(birth, sex)
        await domain.send("enrollment", enrolled(student, birth_date=birth, national_id=number))
        await domain.send("internship", started(student, f"I-{student}", prohibited_for_women=True))
    [reasons] = await codes_of(domain, woman)
    assert reasons == {("INT_HAZARD", "prohibited_for_women")}
    await eventually(
        lambda: fetch(domain.url, "SELECT 1 FROM internship.internships WHERE student_id = $1", man)
    )
    assert await domain.rejections(man) == []
    # Only the internship service keeps the sex; the others never store it.
    kept = await fetch(
        domain.url,
        "SELECT 'internship' AS s, sex FROM internship.known_students WHERE student_id = $1"
        " UNION ALL SELECT 'certificates', sex FROM certificates.known_students"
        " WHERE student_id = $1",
        woman,
    )
    assert {r["s"]: r["sex"] for r in kept} == {"internship": "F", "certificates": None}


async def test_a_rejected_submission_no_longer_blocks_once_cancelled(domain: Domain) -> None:
    student = sid()
    events = lifecycle(student)
    for d, e in events:
        await domain.send(d, e)
    await domain.wait_missing(student, set())
    await domain.send("internship", started(student, "I-BAD", insurance_policy_no=None))
    await codes_of(domain, student)
    # 640 hours already done: the refused submission is outweighed, still eligible.
    await domain.wait_missing(student, set())

    short = sid()  # 300 hours only: the refused submission shows until it is withdrawn
    await domain.send(
        "enrollment",
        enrolled(short, cohort=2023, birth_date="2007-03-01", enrolled_on="2023-09-01"),
    )
    await domain.send("labor-education", labor(short))
    await domain.send("internship", started(short, f"INT-{short}"))
    await domain.send("internship", completed(short, f"INT-{short}", hours=300))
    for d, e in program(short):
        await domain.send(d, e)
    for kind in ("skill", "quality"):
        await domain.send("certificates", certificate(short, kind))
    await domain.send("internship", started(short, "I-BAD", insurance_policy_no=None))
    decision = await eventually(
        lambda: domain.decision(short),
        lambda d: (
            d is not None
            and d["missing"] == {"INTERNSHIP"}
            and "I-BAD (INT_INSURANCE)" in str(d["requirements"])
        ),
    )
    await domain.send(
        "internship",
        cloudevent("internship.cancelled", short, {"internship_id": "I-BAD", "on": "2025-09-10"}),
    )
    decision = await eventually(
        lambda: domain.decision(short),
        lambda d: d is not None and "I-BAD" not in str(d["requirements"]),
    )
    assert decision["missing"] == {"INTERNSHIP"}  # 300 of 480 hours still


async def test_a_failed_labor_month_is_recorded_and_made_up_in_july(domain: Domain) -> None:
    student = sid()
    for d, e in lifecycle(student):
        if e["type"] != "labor_education.completed":
            await domain.send(d, e)
    failed = labor(student)
    failed["data"]["evaluation"] = "fail"
    await domain.send("labor-education", failed)
    await eventually(
        lambda: fetch(
            domain.url,
            "SELECT kind FROM labor_education.labor_records WHERE student_id = $1",
            student,
        ),
        lambda rows: [r["kind"] for r in rows] == ["failed"],
    )
    await domain.wait_missing(student, {"LABOR_MONTH"})
    assert await domain.rejections(student) == []
    await domain.send("labor-education", labor(student, "2025-07-01", "2025-07-31"))
    await domain.wait_missing(student, set())


async def test_a_make_up_that_arrives_before_its_failed_june_waits_for_it(domain: Domain) -> None:
    student = sid()
    for d, e in lifecycle(student):
        if e["type"] != "labor_education.completed":
            await domain.send(d, e)
    await domain.send("labor-education", labor(student, "2025-07-01", "2025-07-31"))
    held = await eventually(
        lambda: fetch(
            domain.url,
            "SELECT waiting_for FROM labor_education.pending WHERE student_id = $1",
            student,
        ),
        # (Held first for the enrollment, when that is not there yet; then for the June.)
        lambda rows: [r["waiting_for"] for r in rows] == ["labor_education.failed 2025"],
    )
    assert len(held) == 1
    failed = labor(student)
    failed["data"]["evaluation"] = "fail"
    await domain.send("labor-education", failed)
    await domain.wait_missing(student, set())
    assert await domain.rejections(student) == []


async def test_graduation_is_confirmed_only_for_an_eligible_student(domain: Domain) -> None:
    student = sid()
    events = lifecycle(student)
    for d, e in events[:-1]:  # no quality certificate yet
        await domain.send(d, e)
    await domain.wait_missing(student, {"QUALITY"})
    graduated = cloudevent("student.graduated", student, {"on": "2026-07-01"})
    await domain.send("enrollment", graduated)
    [reasons] = await codes_of(domain, student)
    assert reasons == {("GRAD_NOT_ELIGIBLE", "on")}

    await domain.send(*events[-1])
    await domain.wait_missing(student, set())
    await eventually(
        lambda: fetch(
            domain.url, "SELECT eligible FROM enrollment.students WHERE student_id = $1", student
        ),
        lambda rows: rows and rows[0]["eligible"] is True,
    )
    await domain.send("enrollment", {**graduated, "id": str(uuid.uuid4())})
    await eventually(
        lambda: fetch(
            domain.url, "SELECT status FROM enrollment.students WHERE student_id = $1", student
        ),
        lambda rows: rows[0]["status"] == "graduated",
    )
    await domain.wait_missing(student, set())


async def test_a_suspension_pushes_back_the_grade_year_and_the_graduation(domain: Domain) -> None:
    student = sid()
    await domain.send("enrollment", enrolled(student, cohort=2023, birth_date="2007-03-01"))
    await domain.send(
        "enrollment",
        cloudevent("student.suspended", student, {"on": "2024-09-01", "reason": "病休"}),
        cloudevent("student.resumed", student, {"on": "2025-03-01"}),
    )
    rows = await eventually(
        lambda: fetch(
            domain.url,
            "SELECT years_behind, expected_graduation FROM enrollment.students"
            " WHERE student_id = $1",
            student,
        ),
        lambda rows: rows and rows[0]["years_behind"] == 1,
    )
    assert str(rows[0]["expected_graduation"]) == "2027-06-30"
    await eventually(  # the labor-education service learns it from enrollment.events
        lambda: fetch(
            domain.url,
            "SELECT 1 FROM labor_education.known_students"
            " WHERE student_id = $1 AND years_behind = 1",
            student,
        )
    )
    # June 2025 is now the student's 1st year again: not the labor month's year.
    await domain.send("labor-education", labor(student))
    [reasons] = await codes_of(domain, student)
    assert reasons == {("LAB_GRADE_YEAR", "period_start")}
    await domain.send("labor-education", labor(student, "2026-06-01", "2026-06-30"))
    await eventually(
        lambda: fetch(
            domain.url,
            "SELECT 1 FROM labor_education.labor_records WHERE student_id = $1",
            student,
        )
    )


async def test_the_quota_counts_only_other_interns_on_the_new_start_date(domain: Domain) -> None:
    # An employer of 10 staff takes one intern at a time (10%). Before, every internship
    # left `active` counted for ever, the student's own earlier placement included.
    employer = "91110105MA0000009X"
    from stdnum.cn import uscc

    employer = employer[:17] + uscc.calc_check_digit(employer[:17])
    small = {"employer_id": employer, "employer_staff": 10, "employer_post_staff": 100}
    earlier, later, overlapping = sid(), sid(), sid()
    for student in (earlier, later, overlapping):
        await domain.send("enrollment", enrolled(student, cohort=2023, birth_date="2007-03-01"))
    spring = {"start_on": "2025-03-01", "planned_end_on": "2025-06-30"}
    await domain.send("internship", started(earlier, f"I-{earlier}-1", **small, **spring))
    await eventually(
        lambda: fetch(
            domain.url, "SELECT 1 FROM internship.internships WHERE student_id = $1", earlier
        )
    )
    # The same student again in the autumn, and another student then: nobody else overlaps.
    await domain.send("internship", started(earlier, f"I-{earlier}-2", **small))
    await eventually(
        lambda: fetch(
            domain.url,
            "SELECT 1 FROM internship.internships WHERE internship_id = $1",
            f"I-{earlier}-2",
        )
    )
    await domain.send("internship", started(later, f"I-{later}", **small))
    # A third student starting inside the spring placement's dates does count it.
    overlap = {"start_on": "2025-05-01", "planned_end_on": "2025-06-30"}
    await domain.send("internship", started(overlapping, f"I-{overlapping}", **small, **overlap))

    def flags(rows: list[Any]) -> dict[str, list[str]]:
        return {r["internship_id"]: [f["code"] for f in json.loads(r["flags"])] for r in rows}

    rows = await eventually(
        lambda: fetch(
            domain.url,
            "SELECT internship_id, flags FROM internship.internships WHERE employer_id = $1",
            employer,
        ),
        lambda rows: len(rows) == 4,
    )
    assert flags(rows) == {
        f"I-{earlier}-1": [],
        f"I-{earlier}-2": ["INT_DURATION"],  # 121 + 180 days planned in all, not the quota
        f"I-{later}": ["INT_QUOTA"],  # the autumn placement of `earlier` runs on its start
        f"I-{overlapping}": ["INT_QUOTA"],
    }


def uscc_of(prefix: str) -> str:
    from stdnum.cn import uscc

    return prefix + uscc.calc_check_digit(prefix)


async def test_the_same_post_is_a_policy_category_not_the_employers_title(domain: Domain) -> None:
    # 20% of a post's 5 staff: one intern per kind of post. 组装工 is an assembly post like
    # 装配工 (the policy's titles), a post sent as `assembly` is one too, 电工 is not.
    employer = uscc_of(f"91110105MA{uuid.uuid4().int % 10**7:07d}")
    small = {"employer_id": employer, "employer_post_staff": 5}
    first, renamed, declared, other, typo = (sid() for _ in range(5))
    for student in (first, renamed, declared, other, typo):
        await domain.send("enrollment", enrolled(student, cohort=2023, birth_date="2007-03-01"))
    await domain.send("internship", started(first, f"I-{first}", post_title="装配工", **small))
    await eventually(
        lambda: fetch(
            domain.url, "SELECT 1 FROM internship.internships WHERE student_id = $1", first
        )
    )
    await domain.send(
        "internship",
        started(renamed, f"I-{renamed}", post_title="组装工", **small),
        started(
            declared, f"I-{declared}", post_title="产线实习", post_category="assembly", **small
        ),
        started(other, f"I-{other}", post_title="电工", **small),
        started(typo, f"I-{typo}", post_title="装配工", post_category="asembly", **small),
    )
    rows = await eventually(
        lambda: fetch(
            domain.url,
            "SELECT internship_id, flags FROM internship.internships WHERE employer_id = $1",
            employer,
        ),
        lambda rows: len(rows) == 4,
    )
    quota = {
        r["internship_id"]: [f["field"] for f in json.loads(r["flags"]) if f["code"] == "INT_QUOTA"]
        for r in rows
    }
    assert quota == {
        f"I-{first}": [],
        f"I-{renamed}": ["employer_post_staff"],
        f"I-{declared}": ["employer_post_staff"],
        f"I-{other}": [],
    }
    [reasons] = await codes_of(domain, typo)
    assert reasons == {("DATA_INVALID", "post_category")}


async def test_an_internship_left_active_expires_and_the_school_is_told(domain: Domain) -> None:
    from datetime import date

    from sanzheng_internship.app import SPEC as INTERNSHIP
    from sanzheng_shared import clock
    from tests.e2e.conftest import projection_snapshot, replay_service

    runtime = next(r for r in domain.runtimes if r.spec is INTERNSHIP)
    assert INTERNSHIP.clock is not None
    student = sid()
    await domain.send("enrollment", enrolled(student, cohort=2023, birth_date="2007-03-01"))
    await domain.send("internship", started(student, f"I-{student}"))  # planned end 2026-02-28

    async def row() -> Any:
        rows = await fetch(
            domain.url,
            "SELECT status, flags FROM internship.internships WHERE student_id = $1",
            student,
        )
        return rows[0] if rows else None

    await eventually(row)
    # 30 days after the planned end is still allowed; the 32nd is not.
    await clock.run_once(runtime.processor, INTERNSHIP.clock, date(2026, 3, 30))
    assert (await row())["status"] == "active"
    for _ in range(2):  # a second run (another replica, a restart) changes nothing more
        await clock.run_once(runtime.processor, INTERNSHIP.clock, date(2026, 4, 1))
    current = await row()
    assert current["status"] == "expired"
    assert [f["code"] for f in json.loads(current["flags"])] == ["INT_EXPIRED"]
    told = await eventually(
        lambda: read_events(domain.settings.kafka_bootstrap, domain.topics.outbound("internship")),
        lambda events: any(
            e["subject"] == student and e["type"] == "internship.expired" for e in events
        ),
    )
    expired = [e for e in told if e["subject"] == student and e["type"] == "internship.expired"]
    assert len(expired) == 1
    assert expired[0]["schoolid"] == "SCH001"
    assert expired[0]["data"]["flags"][0]["code"] == "INT_EXPIRED"
    # The certificates service takes the expiry as a fact (no dead letter).
    await eventually(
        lambda: fetch(
            domain.url,
            "SELECT 1 FROM certificates.internships WHERE internship_id = $1 AND status = $2",
            f"I-{student}",
            "expired",
        )
    )
    # An expired placement is no running intern: another student's start is not flagged.
    assert (
        await fetch(
            domain.url,
            "SELECT 1 FROM internship.internships WHERE status = 'active' AND internship_id = $1",
            f"I-{student}",
        )
        == []
    )
    # A clock event comes from no partition: no consumer position is stored for it.
    assert (
        await fetch(
            domain.url,
            "SELECT 1 FROM internship.consumer_offsets WHERE topic = $1",
            clock.topic("internship"),
        )
        == []
    )
    # The school closes it late: it counts, and the expiry flag is gone.
    await domain.send("internship", completed(student, f"I-{student}", hours=640))
    closed = await eventually(row, lambda r: r["status"] == "completed")
    assert json.loads(closed["flags"]) == []
    await eventually(
        lambda: domain.decision(student),
        lambda d: d is not None and "INTERNSHIP" not in d["missing"],
    )
    # The clock event is in the event log: a replay rebuilds the same projection.
    live = await projection_snapshot(domain.url, INTERNSHIP)
    await replay_service(domain, INTERNSHIP)
    assert await projection_snapshot(domain.url, INTERNSHIP) == live
