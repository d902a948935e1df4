"""National ids in the copies of events a service keeps (SPEC §8: stored encrypted, with a
key kept outside the database). The event log keeps every accepted inbound event for
replay, and the gateway keeps what it accepted over HTTP to publish again after a broker
loss: in both, `data.national_id` is sealed (Fernet, the key of the enrollment service's
vault) and opened again only when the event is folded or published once more."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

SEALED = "$sealed"
MARK = b"\x00sealed\x00"
FIELD = "national_id"


def fernet_key(hash_key: str, encryption_key: str | None) -> str:
    """The configured key, or in development one derived from the HMAC key (as the vault)."""
    return (
        encryption_key
        or base64.urlsafe_b64encode(
            hashlib.sha256(b"sanzheng-dev-encryption:" + hash_key.encode()).digest()
        ).decode()
    )


class SealError(RuntimeError):
    """A value this service sealed that its key cannot open: another key was configured."""


class Sealer:
    def __init__(self, hash_key: str, encryption_key: str | None) -> None:
        self._fernet = Fernet(fernet_key(hash_key, encryption_key))

    def seal(self, value: bytes, data: Any) -> bytes:
        """`value` (a structured CloudEvent) with its national id sealed; `data`, the event's
        parsed data, says whether there is one (a key written with escapes is found too).
        A sealed value starts with MARK, which no JSON text does: only what this service
        sealed is ever opened, never a look-alike a school sent."""
        if not isinstance(data, dict) or not isinstance(data.get(FIELD), str):
            return value
        event = json.loads(value)
        number = event["data"][FIELD]
        event["data"][FIELD] = {SEALED: self._fernet.encrypt(number.encode()).decode()}
        # ASCII escapes: a lone surrogate elsewhere in the event (refused once validated)
        # must not fail the whole batch here.
        return MARK + json.dumps(event, separators=(",", ":")).encode()

    def unseal(self, value: bytes) -> bytes:
        """The event as it was received. Raises SealError when the key cannot open what was
        sealed (a replay with another key must stop, not rebuild without the students)."""
        if not value.startswith(MARK):
            return value
        event = json.loads(value[len(MARK) :])
        data = event["data"]
        try:
            data[FIELD] = self._fernet.decrypt(data[FIELD][SEALED].encode()).decode()
        except InvalidToken:
            raise SealError(
                "a national id in the stored events was sealed with another key: run with the"
                " SANZHENG_ID_ENCRYPTION_KEY (or SANZHENG_ID_HASH_KEY) of the service"
            ) from None
        return json.dumps(event, separators=(",", ":")).encode()


@lru_cache(maxsize=4)
def _sealer(hash_key: str, encryption_key: str | None) -> Sealer:
    return Sealer(hash_key, encryption_key)


def sealer() -> Sealer:
    """This process's sealer, keyed from its settings."""
    from sanzheng_shared.settings import get_settings

    settings = get_settings()
    return _sealer(settings.id_hash_key, settings.id_encryption_key)
