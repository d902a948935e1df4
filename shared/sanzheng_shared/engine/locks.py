"""The per-student lock: two transactions never interleave on one student.

Every batch that reads or writes a student's state first locks that student, across
processes and replicas (two consumer groups in one process, or replicas of a service whose
round-robin assignment puts one student's partitions on different consumers). Keys shared
between students (a certificate number, a national-id fingerprint, an employer) are locked
the same way, so that "is this number free?" and "take it" cannot race.

Row locks on a small table, not advisory locks: row locks live in the tuples, while
advisory locks fill the shared lock table (`max_locks_per_transaction` × connections) and a
500-student batch on a few replicas runs out of it. Every batch takes its students first,
then the keys shared between students (which the submissions held for its students add
to, known only once those are read), each in sorted order: one order for all, so two
batches wait for each other but never deadlock (and PostgreSQL's deadlock detector, a
transient error here, covers what ordering cannot).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any


def student_key(student_id: str) -> str:
    return f"student:{student_id}"


_LONGEST_KEY = 1024
"""Bytes of a key locked as it is. A longer one (a 12 kB "certificate number" a school
sent, say: keys are read before the event is validated) is locked by its digest: the
index on `engine_locks` refuses entries over about 2.7 kB, and that refusal failed the
whole batch, every time it was tried. Every valid key is far shorter (a certificate
number has at most 100 characters), so it is locked as it is by every release."""


def _bounded(key: str) -> str:
    if len(key.encode()) <= _LONGEST_KEY:
        return key
    return f"{key[:32]}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"


async def lock(conn: Any, keys: Iterable[str]) -> int:
    """Lock the keys until the transaction ends; returns how many were locked."""
    ordered = sorted({_bounded(k) for k in keys})
    if not ordered:
        return 0
    # One statement, in key order: a key seen for the first time is inserted (a concurrent
    # creator of the same key waits for this transaction, like a lock), and the row of a
    # key that exists is locked by the conflict, which `WHERE false` leaves unchanged
    # ("all rows will be locked when the ON CONFLICT DO UPDATE action is taken").
    await conn.execute(
        "INSERT INTO engine_locks (k) SELECT unnest($1::text[]) ORDER BY 1"
        " ON CONFLICT (k) DO UPDATE SET k = excluded.k WHERE false",
        ordered,
    )
    return len(ordered)
