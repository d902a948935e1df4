"""Failpoints: named places where a test can make the process die on purpose.

`SANZHENG_FAILPOINT=after_db_commit` (or `before_db_commit`) kills the process with SIGKILL
the first time it reaches that point, so the crash tests hit the exact moment they mean
instead of racing a timer. Unset in production: the check is one dict look-up.
"""

from __future__ import annotations

import os
import signal

_ARMED = os.environ.get("SANZHENG_FAILPOINT", "")


def reach(name: str) -> None:
    if _ARMED and name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
