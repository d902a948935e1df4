"""The enrollment service: owns students and their lifecycle (SPEC §2.1)."""

from __future__ import annotations

from pathlib import Path

from sanzheng_enrollment import handlers
from sanzheng_enrollment.projection import EnrollmentState
from sanzheng_shared.consumer.batch import Routes
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import ServiceSpec, run_service


def routes(topics: TopicNames) -> Routes:
    return {
        topics.inbound("enrollment"): handlers.INBOUND,
        # A graduation is confirmed only for an eligible student: the last decision is kept.
        topics.graduation: handlers.GRADUATION,
        # A diploma the certificates service accepted marks the student graduated.
        topics.outbound("certificates"): handlers.CERTIFICATES,
    }


def publishes(topics: TopicNames) -> dict[str, str]:
    return {
        topics.outbound("enrollment"): "Canonical accepted enrollment events (no national id)",
        topics.rejections: "submission.rejected for enrollment submissions breaking a rule",
    }


SPEC = ServiceSpec(
    name="enrollment",
    description="Students, their enrollment and lifecycle",
    migrations=Path(__file__).parent / "migrations",
    routes=routes,
    publishes=publishes,
    state=EnrollmentState,
)


def main() -> None:
    run_service(SPEC)
