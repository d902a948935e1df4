"""Topic names of SPEC §3 and their creation at start.

A prefix (empty in production) lets tests share one external broker without sharing topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from sanzheng_shared.logging import get_logger

DOMAINS = ("enrollment", "internship", "labor-education", "certificates", "credits")
# A dead letter is the original message (up to the broker's 1 MiB) plus a few headers, so a
# DLQ topic takes larger messages than the others (compose and Strimzi set the same).
DLQ_MAX_MESSAGE_BYTES = 2 * 1024 * 1024

log = get_logger(__name__)


@dataclass(frozen=True)
class TopicNames:
    prefix: str = ""

    def inbound(self, domain: str, school_id: str | None = None) -> str:
        """`sis.<domain>`, or a school's own `sis.<domain>.<schoolid>` (SPEC §8)."""
        base = f"sis.{domain}" if school_id is None else f"sis.{domain}.{school_id}"
        return self.prefix + base

    def outbound(self, domain: str) -> str:
        return f"{self.prefix}{domain}.events"

    @property
    def rejections(self) -> str:
        return f"{self.prefix}sis.rejections"

    @property
    def graduation(self) -> str:
        return f"{self.prefix}graduation.events"

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}.dlq"

    def school_pattern(self, domain: str) -> str:
        """A regex matching every school's own topic of a domain, `sis.<domain>.<schoolid>`
        (and not its dead-letter topic)."""
        return re.escape(self.inbound(domain)) + r"\.(?!dlq$)[A-Za-z0-9_-]+$"

    def school_topic(self, topic: str) -> tuple[str, str] | None:
        """(the shared inbound topic, the school) for a school's own topic, else None."""
        for domain in DOMAINS:
            shared = self.inbound(domain)
            if re.fullmatch(self.school_pattern(domain), topic):
                return shared, topic[len(shared) + 1 :]
        return None

    def all(self) -> list[str]:
        """Every topic of SPEC §3, each with its dead-letter topic (every one of them is
        consumed by some service, and a consumer dead-letters to `<topic>.dlq`)."""
        names = []
        for topic in (
            self.rejections,
            self.graduation,
            *(t for d in DOMAINS for t in (self.inbound(d), self.outbound(d))),
        ):
            names += [topic, self.dlq(topic)]
        return names

    @staticmethod
    def config(topic: str) -> dict[str, str]:
        """Topic-level settings at creation: DLQ topics take a dead-lettered 1 MiB message."""
        return {"max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES)} if topic.endswith(".dlq") else {}


async def ensure_topics(
    bootstrap: str, names: list[str], partitions: int, replication: int = 1
) -> list[str]:
    """Create the missing topics; returns the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(
                [
                    NewTopic(
                        n,
                        num_partitions=partitions,
                        replication_factor=replication,
                        topic_configs=TopicNames.config(n),
                    )
                    for n in missing
                ]
            )
        except TopicAlreadyExistsError:
            pass  # another service created it between our list and create
        log.info("topics_created", topics=missing, partitions=partitions)
        return missing
    finally:
        await admin.close()
