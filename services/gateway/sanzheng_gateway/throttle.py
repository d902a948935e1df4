"""Failed authentication, throttled per client address: after `limit` failures within
`window` seconds, that address is answered 429 with Retry-After until the oldest failure
ages out. A success does not reset the count (interleaving a valid token would otherwise
let guessing go on). Kept in memory, per gateway process."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class FailureThrottle:
    def __init__(
        self,
        limit: int = 20,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 100_000,
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.max_addresses = max_addresses
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            self._failures.pop(address, None)
        return failures

    def retry_after(self, address: str) -> int | None:
        """Seconds to wait when `address` is throttled, else None."""
        failures = self._recent(address)
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - self.clock()))

    def failed(self, address: str) -> None:
        if address not in self._failures and len(self._failures) >= self.max_addresses:
            # Bounded memory under a spray of addresses: forget the stalest one.
            self._failures.pop(next(iter(self._failures)))
        failures = self._failures.setdefault(address, deque())
        failures.append(self.clock())
        while len(failures) > self.limit:
            failures.popleft()
