"""National ID numbers (身份证号) of minors (SPEC §2.1, §8): validated by checksum, stored
encrypted with a key kept outside the database, looked up through a keyed hash, shown
masked. The clear number never leaves this module except into the encryption."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet
from stdnum.cn import ric
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from stdnum.util import isdigits

from sanzheng_shared.events.sealing import fernet_key


@dataclass(frozen=True)
class ProtectedId:
    fingerprint: str  # HMAC-SHA256: finds duplicates without the number
    ciphertext: bytes
    masked: str


def mask(number: str) -> str:
    """`**************1234`: the last four characters at most (SPEC §8). The region code
    used to be kept too; with the birth date it rebuilt the whole number (issue 10)."""
    shown = number[-4:] if len(number) > 4 else ""
    return "*" * (len(number) - len(shown)) + shown


class NationalIdVault:
    def __init__(self, hash_key: str, encryption_key: str | None) -> None:
        self._hash_key = hash_key.encode()
        # The key the event log seals its copies with, too (sealing.py).
        self._fernet = Fernet(fernet_key(hash_key, encryption_key))

    @staticmethod
    def validate(number: str) -> str:
        """The compact, checksum-valid number; raises ValueError with a reason."""
        try:
            # `ric.validate`'s checks in its order, with its region lookup cached: that
            # lookup searched the whole region table each time, about 100 µs a number and
            # nearly half of what an enrollment cost this service.
            compact = str(ric.compact(number))
            if len(compact) != 18:
                raise InvalidLength()
            if not isdigits(compact[:-1]):
                raise InvalidFormat()
            if compact[-1] != ric.calc_check_digit(compact):
                raise InvalidChecksum()
            born = ric.get_birth_date(compact)
            if not _region_existed(compact[:6], born.year):
                raise InvalidComponent()
            return compact
        except ValidationError as exc:
            raise ValueError(str(exc) or "invalid national id") from None

    def fingerprint(self, number: str) -> str:
        return hmac.new(self._hash_key, number.encode(), hashlib.sha256).hexdigest()

    def protect(self, number: str) -> ProtectedId:
        return ProtectedId(
            self.fingerprint(number), self._fernet.encrypt(number.encode()), mask(number)
        )

    def reveal(self, ciphertext: bytes) -> str:
        return self._fernet.decrypt(ciphertext).decode()


@lru_cache(maxsize=8192)
def _region_existed(region: str, year: int) -> bool:
    """Whether the six-digit administrative region code was assigned in that birth year (a
    region and a year, never a person's number: safe to keep)."""
    try:
        ric.get_birth_place(f"{region}{year:04d}01010000")
    except ValidationError:
        return False
    return True


@lru_cache(maxsize=1)
def vault() -> NationalIdVault:
    """The vault of this process, keyed from the settings (keys live outside the database)."""
    from sanzheng_shared.settings import get_settings

    settings = get_settings()
    return NationalIdVault(settings.id_hash_key, settings.id_encryption_key)
