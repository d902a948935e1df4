"""The labor-education service: the June labor month of the 2nd school year (SPEC §2.3)."""

from __future__ import annotations

from pathlib import Path

from sanzheng_labor_education import handlers
from sanzheng_labor_education.projection import LaborState
from sanzheng_shared.consumer.batch import Routes
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import ServiceSpec, run_service


def routes(topics: TopicNames) -> Routes:
    return {
        topics.inbound("labor-education"): handlers.INBOUND,
        topics.outbound("enrollment"): handlers.ENROLLMENT,
    }


def publishes(topics: TopicNames) -> dict[str, str]:
    return {
        topics.outbound("labor-education"): "Accepted labor months and exemptions",
        topics.rejections: "submission.rejected for labor months breaking a LAB_* rule",
    }


SPEC = ServiceSpec(
    name="labor-education",
    description="The June labor-education month (劳动教育) and exemptions",
    migrations=Path(__file__).parent / "migrations",
    routes=routes,
    publishes=publishes,
    known_students=True,
    state=LaborState,
)


def main() -> None:
    run_service(SPEC)
