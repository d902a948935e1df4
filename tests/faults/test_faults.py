"""The fault suite (issue 9), short version: the real system (`sanzheng up`) while generated
students' events flow, with poison of every kind among them, a few service processes
SIGKILLed (at a random moment; the outbox relay after a send and before it marks the rows
published; right after a batch's commit), PostgreSQL restarted mid-batch and every database
connection cut by a proxy. Then every final state is checked against the independent
oracle: nothing lost, nothing announced twice, no decision wrong.

The long version is `sanzheng chaos --minutes 10` (every fault kind, at random, in rounds).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.harness import Chaos

pytestmark = pytest.mark.slow


async def test_kills_and_a_database_restart_lose_nothing_and_double_nothing() -> None:
    # Not under pytest's tmp dir (mode 0700): the database runs as its own system user.
    chaos = Chaos(replicas=1, echo=print)
    done: list[str] = []
    try:
        await chaos.start()
        sends = chaos.new_students(30)
        publishing = asyncio.create_task(chaos.publish(sends, chaos.poison(), spread_s=12))
        await asyncio.sleep(1.5)
        done.append(await chaos.kill())
        done.append(await chaos.failpoint("relay_mid_round"))
        done.append(await chaos.db_restart())
        done.append(await chaos.failpoint("after_db_commit"))
        done.append(await chaos.db_cut())
        await publishing
        figures = await chaos.verify()
    finally:
        await chaos.stop()
    print(figures.summary(), *done, sep="\n")
    assert figures.kill_points == 3, done
    assert figures.faults["db_restart"] == 1
    assert figures.lost == 0, figures.details[:20]
    assert figures.duplicated == 0, figures.details[:20]
    assert figures.wrong == 0, figures.details[:20]
