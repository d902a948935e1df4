"""Failpoints: named places where a test can make the process die, or a handler fail, on
purpose.

- `SANZHENG_FAILPOINT=after_db_commit` (or `before_db_commit`, `relay_mid_round`) kills the
  process with SIGKILL the first time it reaches that point, so the crash tests hit the
  exact moment they mean instead of racing a timer.
- `SANZHENG_FAILPOINT_DIR=DIR`: a file `DIR/<name>` arms that point once, for whichever
  process of the system reaches it first (it removes the file, then dies). The fault
  suite arms points at random moments of a running system this way.
- `SANZHENG_FAILPOINT_RAISE=PREFIX`: the handler of every event whose id starts with
  PREFIX raises (one poisoned event among good ones).

Unset in production: each check is one string test.
"""

from __future__ import annotations

import os
import signal

_ARMED = os.environ.get("SANZHENG_FAILPOINT", "")
_DIR = os.environ.get("SANZHENG_FAILPOINT_DIR", "")
_RAISE = os.environ.get("SANZHENG_FAILPOINT_RAISE", "")


class FailpointError(RuntimeError):
    """Raised on purpose inside a handler (`SANZHENG_FAILPOINT_RAISE`)."""


def reach(name: str) -> None:
    if _ARMED and name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
    if _DIR:
        try:
            os.unlink(os.path.join(_DIR, name))
        except OSError:
            return  # not armed, or another process took it
        os.kill(os.getpid(), signal.SIGKILL)


def handler_entered(event_id: str) -> None:
    if _RAISE and event_id.startswith(_RAISE):
        raise FailpointError(f"failpoint: the handler raises for event {event_id}")
