"""`sanzheng what-if --policy FILE --school ID [--cohort Y]`: a school's students re-decided
under a candidate policy file, with the certificates service's fold over the gateway's
read model (`sanzheng_gateway.whatif.cohort`). Reads only; changes nothing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sanzheng_gateway import whatif
from sanzheng_shared.policy import load_file

COLUMNS = (
    "student_id",
    "name",
    "cohort",
    "changed",
    "policy_before",
    "eligible_before",
    "eligible_after",
    "missing_before",
    "missing_after",
)


async def run(
    conn: Any, policy_file: Path, school: str, cohort: int | None
) -> list[dict[str, Any]]:
    policy = load_file(policy_file)  # PolicyError says which file and field
    return await whatif.cohort(conn, policy, school, cohort)


def write_csv(rows: list[dict[str, Any]], out: Path) -> None:
    with out.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow(
                [
                    " ".join(v) if isinstance(v := r[c], list) else "" if v is None else v
                    for c in COLUMNS
                ]
            )


def summary(rows: list[dict[str, Any]], policy_version: str) -> list[str]:
    changed = [r for r in rows if r["changed"]]
    lines = [f"{len(changed)} of {len(rows)} students change under {policy_version}"]
    for r in changed:
        before = "eligible" if r["eligible_before"] else "not eligible"
        after = "eligible" if r["eligible_after"] else "not eligible"
        lines.append(
            f"  {r['student_id']} {r['name']}: {before} -> {after}"
            f" (missing: {' '.join(r['missing_after']) or '-'})"
        )
    return lines
