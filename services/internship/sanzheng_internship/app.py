"""The internship service: internships and the rules of the 2021 regulation (SPEC §2.2)."""

from __future__ import annotations

from pathlib import Path

from sanzheng_internship import expiry, handlers
from sanzheng_internship.projection import InternshipState
from sanzheng_shared.consumer.batch import Routes
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import ServiceSpec, run_service


def routes(topics: TopicNames) -> Routes:
    return {
        topics.inbound("internship"): handlers.INBOUND,
        topics.outbound("enrollment"): handlers.ENROLLMENT,
    }


def publishes(topics: TopicNames) -> dict[str, str]:
    return {
        topics.outbound("internship"): "Accepted internship events, with flagged rule breaches",
        topics.rejections: "submission.rejected for internships breaking a rejecting rule",
    }


SPEC = ServiceSpec(
    name="internship",
    description="Internships (认识/跟岗/岗位实习) checked against the 2021 regulation",
    migrations=Path(__file__).parent / "migrations",
    routes=routes,
    publishes=publishes,
    known_students=True,
    state=InternshipState,
    clock=expiry.JOB,
)


def main() -> None:
    run_service(SPEC)
