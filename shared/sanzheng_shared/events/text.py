"""What PostgreSQL cannot store in text or jsonb: a NUL, half of a surrogate pair (which has
no UTF-8 form). The envelope refuses an event holding one; a key read from an event before
it is validated must not hold one either."""

from __future__ import annotations

import re

UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
