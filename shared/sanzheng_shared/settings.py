"""Configuration from the environment (12-factor): every variable is `SANZHENG_<FIELD>`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANZHENG_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers; unset means `up` starts Tansu"
    )
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset means `up` starts embedded PostgreSQL"
    )
    data_dir: Path = Field(
        default=Path(".data"), description="where the embedded database keeps its files"
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, description="the gateway's HTTP port")
    api_docs: bool = Field(
        default=True, description="serve Swagger UI at /docs (from vendored assets, no CDN)"
    )
    service_http_port: int = Field(
        default=0, description="health/metrics port of one service process (0: none)"
    )
    topic_prefix: str = Field(default="", description="prefix of every topic (tests share brokers)")
    school_topics: bool = Field(
        default=True,
        description="also consume each school's own topics sis.<domain>.<schoolid> (SPEC §8)",
    )
    topic_partitions: int = Field(default=6, ge=1, description="partitions of created topics")
    replicas: int = Field(
        default=1,
        ge=1,
        description="`up`/`demo`: processes of each domain service, in the same consumer groups",
    )
    topic_replication: int = Field(default=1, ge=1)
    kafka_acks: str = Field(default="all", description="producer acks; `all` on Apache Kafka")
    consumer_max_records: int = Field(default=500, ge=1, description="records per batch")
    consumer_batch_timeout_ms: int = Field(default=200, ge=1)
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="consumer group session timeout (Kafka's default; brokers refuse less than "
        "their group.min.session.timeout.ms, 6 s on Apache Kafka). The embedded broker holds "
        "every group join for half of it, so tests on it use less",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=500,
        ge=1,
        le=30_000,
        description="how long the broker may hold a consumer's fetch that finds nothing new "
        "(Kafka's default). Apache Kafka answers as soon as a record arrives; the embedded "
        "broker holds the fetch for much of the wait (up to half of it at 500 ms) even so, "
        "and each hop of an event waited that long: "
        "`sanzheng up`, the demo and the bench set 200 for the embedded broker",
    )
    kafka_commit_interval_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="how often a consumer commits its applied offsets to Kafka, for lag "
        "tools only (a service resumes from the positions it keeps in PostgreSQL); the last "
        "batch before it goes idle is committed within this interval (0: after every batch)",
    )
    held_notice_after_seconds: float = Field(
        default=5,
        ge=0,
        description="a held submission is announced (submission.held) once it has waited "
        "this long; most holds end sooner, when the enrollment comes through, and then "
        "neither notice is sent (0: announce every hold at once)",
    )
    gc_young_threshold: int = Field(
        default=100_000,
        ge=1,
        description="a running service's garbage collector looks at its young objects "
        "after this many net allocations (with Python's default, 700, the collector took a "
        "fifth to a third of the services' CPU under load; sanzheng_shared/collector.py)",
    )
    stop_timeout_seconds: float = Field(
        default=90,
        gt=0,
        description="a service's stop waits this long for the batch in hand and its "
        "connections, then closes them (nothing is lost: offsets live in PostgreSQL)",
    )
    broker_unreachable_seconds: float = Field(
        default=10,
        gt=0,
        description="/readyz turns false once the broker has been unreachable this long",
    )
    ingest_retention_hours: float = Field(
        default=168,
        gt=0,
        description="the gateway keeps events accepted over HTTP this long, and re-publishes "
        "them after the embedded broker restarted empty",
    )
    outbox_poll_seconds: float = Field(
        default=1.0, gt=0, description="relay poll when no NOTIFY arrives"
    )
    outbox_batch: int = Field(default=500, ge=1)
    background_jobs: bool = Field(
        default=True,
        description="run the services' clock jobs (the certificates service's daily "
        "evaluation of requirement states, the internship service's expiry)",
    )
    outbox_max_attempts: int = Field(
        default=5,
        ge=1,
        description="rounds a row the broker refuses is retried before it is parked",
    )
    broker_retention_days: float = Field(
        default=90,
        gt=0,
        description="how long the broker keeps the consumed topics (log.retention.hours / 24); "
        "at least the real retention, or a re-delivered duplicate could be applied twice",
    )
    inbox_retention_margin_days: float = Field(
        default=10,
        ge=0,
        description="inbox rows are kept for the broker's retention plus this margin",
    )
    inbox_prune_every_seconds: float = Field(
        default=3600,
        ge=0,
        description="how often each service prunes its inbox (0: never; see prune-inbox)",
    )
    policy_dir: Path | None = Field(
        default=None, description="extra policy files (per school and cohort) beside the default"
    )
    db_roles: bool = Field(
        default=True,
        description="`up` gives each service its own database role owning only its schema",
    )
    log_level: str = "INFO"
    log_format: str = Field(default="json", description="`json` or `console`")
    id_hash_key: str = Field(
        default="dev-only-hmac-key-change-me",
        description="HMAC key for national-id look-ups (keep outside the database)",
    )
    id_encryption_key: str | None = Field(
        default=None, description="Fernet key encrypting national ids (derived in dev if unset)"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
