"""The quota's count of other students' interns running at an employer on a day."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sanzheng_internship.projection import RunningInterns


def test_counts_agree_with_checking_every_internship() -> None:
    rng = random.Random(3)
    first_day = date(2026, 1, 1)
    rows = []
    for i in range(400):
        start = first_day + timedelta(days=rng.randint(0, 300))
        last = start + timedelta(days=rng.randint(-5, 120))  # a few end before they start
        rows.append(
            {
                "internship_id": f"i{i}",
                "employer_id": rng.choice(["E1", "E2", "E3"]),
                "post_kind": rng.choice(["welding", "nursing"]),
                "start_on": start,
                "last_on": last,
            }
        )
    running = RunningInterns(rows)
    for _ in range(300):
        day = first_day + timedelta(days=rng.randint(-10, 430))
        employer = rng.choice(["E1", "E2", "E3", "E9"])
        for kind in (None, "welding", "nursing"):
            expected = sum(
                1
                for r in rows
                if r["employer_id"] == employer
                and kind in (None, r["post_kind"])
                and r["start_on"] <= day <= r["last_on"]
            )
            assert running.on(employer, kind, day) == expected


def test_an_internship_runs_on_its_first_and_its_last_day() -> None:
    one = {"employer_id": "E1", "post_kind": "p", "start_on": date(2026, 3, 1)}
    running = RunningInterns([one | {"last_on": date(2026, 3, 31)}])
    assert [running.on("E1", None, date(2026, 3, d)) for d in (1, 31)] == [1, 1]
    assert running.on("E1", "p", date(2026, 4, 1)) == 0
    assert running.on("E1", "p", date(2026, 2, 28)) == 0


def test_a_row_without_a_kind_of_post_counts_once_on_any_post() -> None:
    day = date(2026, 3, 1)
    running = RunningInterns(
        [{"employer_id": "E1", "post_kind": None, "start_on": day, "last_on": day}]
    )
    assert running.on("E1", None, day) == 1
