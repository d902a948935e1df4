"""`sanzheng demo`: load a synthetic province into a running system and summarise it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from sanzheng.synthetic import ProvinceGenerator, Student
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.testing import eventually, fetch


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


async def wait_processed(database_url: str, students: int) -> list[Any]:
    return await eventually(
        lambda: fetch(
            database_url,
            "SELECT school_id, cohort, count(*) AS n"
            " FROM certificates.students GROUP BY 1, 2 ORDER BY 1, 2",
        ),
        lambda rows: sum(r["n"] for r in rows) >= students,
        timeout=300,
    )


def summary_table(rows: list[Any], profiles: Counter[str]) -> Table:
    table = Table(title="students known to the certificates service")
    table.add_column("school")
    table.add_column("cohort", justify="right")
    table.add_column("students", justify="right")
    for r in rows:
        table.add_row(r["school_id"], str(r["cohort"]), str(r["n"]))
    return table


def generate(count: int, seed: int) -> list[Student]:
    return list(ProvinceGenerator(seed=seed).students(count))
