"""The tuned garbage collector (sanzheng_shared/collector.py) still reclaims cycles."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# In a process of its own: freezing would keep the test run's objects forever.
_PROBE = textwrap.dedent(
    """
    import gc, weakref
    from sanzheng_shared.collector import settle_after_start

    class Node:
        pass

    started = Node()
    settle_after_start(5_000)
    assert gc.get_threshold()[0] == 5_000, gc.get_threshold()
    assert gc.get_freeze_count() > 0

    cycle = Node(); cycle.me = cycle
    freed = []
    weakref.finalize(cycle, freed.append, True)
    del cycle
    keep = [[] for _ in range(1_500)]  # past Python's 700, short of the threshold
    print("before", bool(freed))
    keep += [[] for _ in range(10_000)]  # past it: a young collection runs on its own
    print("after", bool(freed))
    """
)


def test_a_cycle_made_after_start_is_collected_after_the_threshold_not_before() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["before", "False", "after", "True"]
