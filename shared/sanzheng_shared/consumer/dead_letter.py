"""Dead letters: the original message unchanged, with headers saying why and where from."""

from __future__ import annotations

from typing import Any

from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.outbox import Header, OutboxMessage


def _header(key: Any, value: Any) -> Header:
    """A consumed header as the outbox stores it: a null value stays null, text is encoded."""
    name = key if isinstance(key, str) else bytes(key).decode("utf-8", "backslashreplace")
    if value is None or isinstance(value, bytes):
        return name, value
    if isinstance(value, str):
        return name, value.encode("utf-8", "backslashreplace")
    return name, bytes(value)


def _text(value: str) -> bytes:
    return value.encode("utf-8", "backslashreplace")


def dead_letter(
    record: Any, reason: str, consumer: str, dlq_topic: str | None = None
) -> OutboxMessage:
    """`dlq_topic` defaults to `<topic>.dlq`; a school's own topic uses the shared one."""
    headers = (
        *(_header(k, v) for k, v in record.headers or ()),
        ("x-dlq-reason", _text(reason[:1000])),
        ("x-dlq-consumer", _text(consumer)),
        ("x-original-topic", _text(record.topic)),
        ("x-original-partition", str(record.partition).encode()),
        ("x-original-offset", str(record.offset).encode()),
    )
    return OutboxMessage(
        dlq_topic or TopicNames.dlq(record.topic), record.key, record.value or b"", headers
    )
