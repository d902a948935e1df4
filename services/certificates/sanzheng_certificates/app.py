"""The certificates service: certificates and the graduation decision (SPEC §2.4, §2.5)."""

from __future__ import annotations

from pathlib import Path

from sanzheng_certificates import handlers
from sanzheng_shared.consumer.batch import Routes
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import ServiceSpec, run_service


def routes(topics: TopicNames) -> Routes:
    return {topics.outbound("enrollment"): {"student.enrolled": handlers.student_enrolled}}


def publishes(topics: TopicNames) -> dict[str, str]:
    return {topics.graduation: "graduation.eligibility_changed when a decision changes"}


SPEC = ServiceSpec(
    name="certificates",
    description="Certificates and the three-certificates graduation decision",
    migrations=Path(__file__).parent / "migrations",
    routes=routes,
    publishes=publishes,
)


def main() -> None:
    run_service(SPEC)
