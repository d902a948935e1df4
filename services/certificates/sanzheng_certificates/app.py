"""The certificates service: certificates and the graduation decision (SPEC §2.4, §2.5)."""

from __future__ import annotations

from pathlib import Path

from sanzheng_certificates import daily, handlers
from sanzheng_certificates.projection import CertificatesState
from sanzheng_shared.consumer.batch import Routes
from sanzheng_shared.kafka.topics import TopicNames
from sanzheng_shared.service import ServiceSpec, run_service


def routes(topics: TopicNames) -> Routes:
    return {
        topics.inbound("certificates"): handlers.INBOUND,
        topics.outbound("enrollment"): handlers.ENROLLMENT,
        topics.outbound("internship"): handlers.INTERNSHIP,
        topics.outbound("labor-education"): handlers.LABOR,
        topics.outbound("credits"): handlers.CREDITS,
        topics.rejections: handlers.REJECTIONS,
    }


def publishes(topics: TopicNames) -> dict[str, str]:
    return {
        topics.outbound("certificates"): "Accepted certificates and revocations",
        topics.graduation: "graduation.eligibility_changed when a decision or its "
        "explanation changes; student.at_risk / student.risk_cleared when a requirement's "
        "state changes (also by the daily evaluation)",
        topics.rejections: "submission.rejected for certificate submissions (a diploma for a "
        "student not eligible: GRAD_NOT_ELIGIBLE)",
    }


SPEC = ServiceSpec(
    name="certificates",
    description="Certificates and the three-certificates graduation decision",
    migrations=Path(__file__).parent / "migrations",
    routes=routes,
    publishes=publishes,
    known_students=True,
    state=CertificatesState,
    clock=daily.JOB,  # states move with the date: once a day, decide again
)


def main() -> None:
    run_service(SPEC)
