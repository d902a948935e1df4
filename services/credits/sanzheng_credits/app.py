"""The credits service: the learning account (学分银行, SPEC §2.6): completed courses and
recognized credit."""

from __future__ import annotations

from pathlib import Path

from sanzheng_credits import handlers
from sanzheng_credits.projection import CreditsState
from sanzheng_shared.consumer.batch import Routes
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import ServiceSpec, run_service


def routes(topics: TopicNames) -> Routes:
    return {
        topics.inbound("credits"): handlers.INBOUND,
        topics.outbound("enrollment"): handlers.ENROLLMENT,
        topics.outbound("certificates"): handlers.CERTIFICATES,
    }


def publishes(topics: TopicNames) -> dict[str, str]:
    return {
        topics.outbound("credits"): "Accepted course completions, recognized and revoked credit",
        topics.rejections: "submission.rejected for submissions breaking a CRS_* rule",
    }


SPEC = ServiceSpec(
    name="credits",
    description="The learning account (学分银行): courses, credits and recognized credit",
    migrations=Path(__file__).parent / "migrations",
    routes=routes,
    publishes=publishes,
    known_students=True,
    state=CreditsState,
)


def main() -> None:
    run_service(SPEC)
