"""`sanzheng replay SERVICE`: the service's projection rebuilt from its own event log."""

from __future__ import annotations

from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from sanzheng_shared.db.migrations import migrate
from sanzheng_shared.engine.replay import ReplayResult, replay
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import load_policies
from sanzheng_shared.settings import Settings


async def run(
    spec: Any,
    settings: Settings,
    url: str,
    *,
    school: str | None,
    student: str | None,
    emit: bool,
    console: Console,
) -> ReplayResult:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, spec.schema, spec.migrations, known_students=spec.known_students)
        await conn.execute(f'SET search_path TO "{spec.schema}", public')
        with Progress(
            TextColumn(f"replaying {spec.name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("replay", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await replay(
                conn,
                spec,
                topics=TopicNames(settings.topic_prefix),
                policies=load_policies(settings),
                school=school,
                student=student,
                emit=emit,
                on_progress=advance,
            )
    finally:
        await conn.close()
