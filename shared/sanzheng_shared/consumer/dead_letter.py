"""Dead letters: the original message unchanged, with headers saying why and where from."""

from __future__ import annotations

from typing import Any

from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.outbox import OutboxMessage


def dead_letter(
    record: Any, reason: str, consumer: str, dlq_topic: str | None = None
) -> OutboxMessage:
    """`dlq_topic` defaults to `<topic>.dlq`; a school's own topic uses the shared one."""
    headers = (
        *tuple(record.headers or ()),
        ("x-dlq-reason", reason[:1000].encode()),
        ("x-dlq-consumer", consumer.encode()),
        ("x-original-topic", record.topic.encode()),
        ("x-original-partition", str(record.partition).encode()),
        ("x-original-offset", str(record.offset).encode()),
    )
    return OutboxMessage(
        dlq_topic or TopicNames.dlq(record.topic), record.key, record.value or b"", headers
    )
