"""National ID numbers (身份证号) of minors (SPEC §2.1, §8): validated by checksum, stored
encrypted with a key kept outside the database, looked up through a keyed hash, shown
masked. The clear number never leaves this module except into the encryption."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet
from stdnum.cn import ric
from stdnum.exceptions import ValidationError


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
        key = (
            encryption_key
            or base64.urlsafe_b64encode(
                hashlib.sha256(b"sanzheng-dev-encryption:" + self._hash_key).digest()
            ).decode()
        )
        self._fernet = Fernet(key)

    @staticmethod
    def validate(number: str) -> str:
        """The compact, checksum-valid number; raises ValueError with a reason."""
        try:
            return str(ric.validate(number))
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


@lru_cache(maxsize=1)
def vault() -> NationalIdVault:
    """The vault of this process, keyed from the settings (keys live outside the database)."""
    from sanzheng_shared.settings import get_settings

    settings = get_settings()
    return NationalIdVault(settings.id_hash_key, settings.id_encryption_key)
