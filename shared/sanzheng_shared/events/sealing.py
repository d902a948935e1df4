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
FIELD = "national_id"


def fernet_key(hash_key: str, encryption_key: str | None) -> str:
    """The configured key, or in development one derived from the HMAC key (as the vault)."""
    return (
        encryption_key
        or base64.urlsafe_b64encode(
            hashlib.sha256(b"sanzheng-dev-encryption:" + hash_key.encode()).digest()
        ).decode()
    )


class Sealer:
    def __init__(self, hash_key: str, encryption_key: str | None) -> None:
        self._fernet = Fernet(fernet_key(hash_key, encryption_key))

    def seal(self, value: bytes, data: Any) -> bytes:
        """`value` (a structured CloudEvent) with its national id sealed; `data`, the event's
        parsed data, says whether there is one (a key written with escapes is found too)."""
        if not isinstance(data, dict) or not isinstance(data.get(FIELD), str):
            return value
        event = json.loads(value)
        number = event["data"][FIELD]
        event["data"][FIELD] = {SEALED: self._fernet.encrypt(number.encode()).decode()}
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()

    def unseal(self, value: bytes) -> bytes:
        """The event as it was received (values not sealed by us are left as they are)."""
        if SEALED.encode() not in value:
            return value
        event = json.loads(value)
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict):
            return value
        sealed = data.get(FIELD)
        if not isinstance(sealed, dict) or not isinstance(sealed.get(SEALED), str):
            return value
        try:
            data[FIELD] = self._fernet.decrypt(sealed[SEALED].encode()).decode()
        except InvalidToken:
            return value  # not ours (a school sent that shape): refused again when folded
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


@lru_cache(maxsize=4)
def _sealer(hash_key: str, encryption_key: str | None) -> Sealer:
    return Sealer(hash_key, encryption_key)


def sealer() -> Sealer:
    """This process's sealer, keyed from its settings."""
    from sanzheng_shared.settings import get_settings

    settings = get_settings()
    return _sealer(settings.id_hash_key, settings.id_encryption_key)
