"""`sanzheng demo`: load a synthetic province into a running system and summarise it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from sanzheng.synthetic import ProvinceGenerator, Student
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.policy.loader import DEFAULT_DIR
from sanzheng_shared.testing import eventually, fetch, read_topic


async def load(bootstrap: str, students: list[Student], console: Console) -> int:
    topics = TopicNames()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10)
    await producer.start()
    sent = 0
    try:
        total = sum(len(s.submissions) for s in students)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("publishing events", total=total)
            for student in students:
                for sub in student.submissions:
                    await producer.send(
                        topics.inbound(sub.domain),
                        json.dumps(sub.event, ensure_ascii=False).encode(),
                        key=student.student_id.encode(),
                        headers=[("content-type", b"application/cloudevents+json")],
                    )
                    sent += 1
                    progress.advance(task)
            await producer.flush()
    finally:
        await producer.stop()
    return sent


SETTLE_SECONDS = 6.0


async def last_decision_epoch(database_url: str) -> float:
    """When the last graduation decision was made (its outbox row's creation: a decision's
    own `decided_at` is the broker time of the newest event behind it, so that a replay
    reproduces it). Published rows have left the outbox; their topic's count keeps it."""
    rows = await fetch(
        database_url,
        "SELECT extract(epoch FROM greatest("
        " (SELECT max(last_created_at) FROM certificates.outbox_published"
        "  WHERE topic LIKE '%graduation.events'),"
        " (SELECT max(created_at) FROM certificates.outbox"
        "  WHERE topic LIKE '%graduation.events'))) AS t",
    )
    return float(rows[0]["t"] or 0)


async def wait_processed(database_url: str, published: int) -> list[Any]:
    """Wait until every published event was consumed by its service and the decisions stop
    changing (some submissions are rejected, so not every student need have a decision)."""
    consumed = " + ".join(
        f"(SELECT coalesce(sum(next_offset), 0) FROM {schema}.consumer_offsets"
        " WHERE topic LIKE 'sis.%' AND topic <> 'sis.rejections')"
        for schema in ("enrollment", "internship", "labor_education", "certificates", "credits")
    )
    await eventually(
        lambda: fetch(database_url, f"SELECT {consumed} AS n"),
        lambda rows: rows[0]["n"] >= published,
        timeout=900,
    )
    last: list[Any] = [None]

    async def settled() -> bool:
        # Nothing new consumed nor emitted by the deciding service since the last look.
        rows = await fetch(
            database_url,
            "SELECT (SELECT coalesce(sum(messages), 0) FROM certificates.outbox_published)"
            " + (SELECT count(*) FROM certificates.outbox)"
            " + (SELECT coalesce(sum(next_offset), 0) FROM certificates.consumer_offsets) AS t",
        )
        same = rows[0]["t"] == last[0]
        last[0] = rows[0]["t"]
        return same

    await eventually(settled, timeout=600, interval=SETTLE_SECONDS / 3)
    return await fetch(
        database_url,
        "SELECT d.school_id, coalesce(k.cohort::text, '?') AS cohort, count(*) AS n,"
        " count(*) FILTER (WHERE eligible) AS eligible"
        " FROM certificates.decisions d LEFT JOIN certificates.known_students k USING (student_id)"
        " GROUP BY 1, 2 ORDER BY 1, 2",
    )


async def missing_counts(database_url: str) -> list[Any]:
    """Per requirement of any decision (ACADEMIC, SKILL_1X, …), how many students miss it:
    a requirement nobody misses is listed too, with 0."""
    return await fetch(
        database_url,
        "SELECT r->>'code' AS code, count(*) FILTER (WHERE NOT (r->>'met')::boolean) AS n"
        " FROM certificates.decisions, jsonb_array_elements(requirements) AS r"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
    )


async def diploma_counts(database_url: str, bootstrap: str) -> list[Any]:
    """What became of the diplomas the schools sent: accepted for an eligible student, held
    until the student is eligible, refused (GRAD_NOT_ELIGIBLE on sis.rejections)."""
    rows = await fetch(
        database_url,
        "SELECT 'accepted' AS outcome, count(*) AS n FROM certificates.certificates"
        " WHERE kind = 'diploma'"
        " UNION ALL SELECT 'held until eligible', count(*) FROM certificates.pending"
        " WHERE event->'data'->>'kind' = 'diploma'",
    )
    refused: set[str] = set()  # by id: the relay may have sent one twice
    for record in await read_topic(bootstrap, TopicNames().rejections):
        if b"GRAD_NOT_ELIGIBLE" in record.value:
            event = json.loads(record.value)
            reasons = event.get("data", {}).get("reasons", [])
            if any(r.get("code") == "GRAD_NOT_ELIGIBLE" for r in reasons):
                refused.add(event["id"])
    return [*rows, {"outcome": "refused (GRAD_NOT_ELIGIBLE)", "n": len(refused)}]


def summary_table(rows: list[Any]) -> Table:
    table = Table(title="graduation decisions (三证毕业)")
    for name, justify in (
        ("school", "left"),
        ("cohort", "right"),
        ("students", "right"),
        ("eligible", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(r["school_id"], r["cohort"], str(r["n"]), str(r["eligible"]))
    return table


def state_table(rows: list[Any]) -> Table:
    table = Table(title="students by requirement state (and waivers in force)")
    table.add_column("state")
    table.add_column("students", justify="right")
    for r in rows:
        table.add_row(r["state"] or "-", str(r["n"]))
    return table


def missing_table(rows: list[Any]) -> Table:
    table = Table(title="students missing each requirement")
    table.add_column("requirement")
    table.add_column("students", justify="right")
    for r in rows:
        table.add_row(r["code"], str(r["n"]))
    return table


def diploma_table(rows: list[Any]) -> Table:
    table = Table(title="diplomas sent by the schools (学历证书)")
    table.add_column("outcome")
    table.add_column("students", justify="right")
    for r in rows:
        table.add_row(r["outcome"], str(r["n"]))
    return table


async def counselor_token(database_url: str, school: str) -> str:
    return await demo_token(database_url, "counselor", school, "sanzheng demo")


async def demo_token(database_url: str, role: str, school: str, holder: str) -> str:
    """A token for the demo's reader; a principal's holder is a waiver's approver."""
    from sanzheng import tokens_cli
    from sanzheng_gateway import tokens

    conn = await tokens_cli.with_gateway_schema(database_url)
    try:
        classes: tuple[str, ...] = ()
        if role == "counselor":
            # The school's first class, so that the dashboard opens on a class sorted by
            # urgency (none yet if the gateway has not read the enrollments: the search).
            first = await conn.fetchval(
                "SELECT min(class_id) FROM students WHERE school_id = $1", school
            )
            classes = (first,) if first else ()
        return await tokens.create(conn, role, school, holder, classes=classes)
    finally:
        await conn.close()


async def state_counts(database_url: str) -> list[Any]:
    """How many students have a requirement in each state (SPEC §2.5), and how many have
    a waiver in force."""
    return await fetch(
        database_url,
        "SELECT r->>'state' AS state, count(DISTINCT student_id) AS n"
        " FROM certificates.decisions, jsonb_array_elements(requirements) AS r"
        " WHERE NOT (r->>'met')::boolean GROUP BY 1"
        " UNION ALL SELECT 'waived', count(DISTINCT student_id) FROM certificates.decisions,"
        " jsonb_array_elements(requirements) AS r WHERE r->>'detail' LIKE 'waived by %'"
        " ORDER BY 1",
    )


def candidate_policy(data_dir: Path) -> Path:
    """A second policy version for what-if: the shipped default with 400 internship hours
    instead of 480 (derived from the default file, so it follows it)."""
    text = (DEFAULT_DIR / "default.yaml").read_text(encoding="utf-8")
    version = re.search(r'^version: "([^"]+)"', text, re.MULTILINE)
    assert version is not None, "the default policy names its version"
    text = text.replace(version.group(0), 'version: "candidate-internship-400"', 1)
    text = re.sub(r"min_hours: \d+", "min_hours: 400", text, count=1)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "candidate-policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def generate(count: int, seed: int) -> list[Student]:
    return list(ProvinceGenerator(seed=seed).students(count))
