"""Static checks of docker-compose.yml, the Dockerfiles and the Kubernetes manifests (no
Docker engine runs here; these catch what would break a `docker compose up` or a deploy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sanzheng_shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICE_NAMES = (
    "enrollment",
    "internship",
    "labor-education",
    "certificates",
    "credits",
    "gateway",
)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
MANIFEST_FILES = sorted((ROOT / "deploy" / "kubernetes").rglob("*.yaml"))
MANIFESTS = [doc for f in MANIFEST_FILES for doc in yaml.safe_load_all(f.read_text()) if doc]
APP_SERVICES = {name: svc for name, svc in COMPOSE["services"].items() if "build" in svc}
SETTINGS_VARS = {f"SANZHENG_{name.upper()}" for name in Settings.model_fields}
REQUIRED_VARS = {"SANZHENG_KAFKA_BOOTSTRAP", "SANZHENG_DATABASE_URL"}


def _kinds(kind: str) -> list[dict]:
    return [m for m in MANIFESTS if m.get("kind") == kind]


def test_every_service_is_in_compose_with_its_dockerfile_and_context() -> None:
    services = {p.parent.name for p in (ROOT / "services").glob("*/Dockerfile")}
    assert services == set(APP_SERVICES)
    for name, svc in APP_SERVICES.items():
        context = ROOT / svc["build"]["context"]
        assert context.is_dir()
        assert (context / svc["build"]["dockerfile"]).is_file(), name


@pytest.mark.parametrize(
    "dockerfile", sorted((ROOT / "services").glob("*/Dockerfile")), ids=lambda p: p.parent.name
)
def test_dockerfiles_are_multi_stage_locked_and_non_root(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2 or text.count("FROM ") >= 2
    assert "uv sync --frozen --no-dev" in text
    assert re.search(r"^USER (?!root|0\b)", text, re.M)
    module = "sanzheng_" + dockerfile.parent.name.replace("-", "_")
    assert f'"{module}"' in text
    assert (ROOT / "services" / dockerfile.parent.name / module / "__main__.py").is_file()


def test_the_build_context_keeps_secrets_and_data_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".git", ".venv", ".data", ".env", "*.env"):
        assert pattern in ignored


def _compose_env(svc: dict) -> dict[str, str]:
    env = svc.get("environment", {})
    return dict(env) if isinstance(env, dict) else dict(e.split("=", 1) for e in env)


def test_compose_uses_only_known_settings_and_sets_the_required_ones() -> None:
    for name, svc in APP_SERVICES.items():
        env = _compose_env(svc)
        assert set(env) >= REQUIRED_VARS, name
        unknown = {k for k in env if k.startswith("SANZHENG_")} - SETTINGS_VARS
        assert not unknown, f"{name} sets variables the settings do not know: {unknown}"
        assert env["SANZHENG_KAFKA_ACKS"] == "all"


def test_manifests_use_only_known_settings_and_set_the_required_ones() -> None:
    [config] = [m for m in _kinds("ConfigMap") if m["metadata"]["name"] == "sanzheng-config"]
    from_config = set(config["data"])
    assert not {k for k in from_config if k.startswith("SANZHENG_")} - SETTINGS_VARS
    for deployment in _kinds("Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        names = from_config | {e["name"] for e in container.get("env", [])}
        assert names >= REQUIRED_VARS, deployment["metadata"]["name"]
        assert not {n for n in names if n.startswith("SANZHENG_")} - SETTINGS_VARS


def test_services_depend_on_healthy_infrastructure() -> None:
    for name, svc in APP_SERVICES.items():
        deps = svc["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["topics"]["condition"] == "service_completed_successfully", name
        assert "healthcheck" in svc
    assert COMPOSE["services"]["postgres"]["healthcheck"]


def test_the_compose_database_compresses_its_log_and_checkpoints_seldom() -> None:
    # docs/scaling.md: at 1,000,000 students the log per event fell from 28 to 11 kB and the
    # waits for disk from 20 s to 1 s in enrollment's run with these two settings.
    command = COMPOSE["services"]["postgres"]["command"]
    settings = dict(c.split("=", 1) for c in command[2::2])
    assert command[0] == "postgres" and set(command[1::2]) == {"-c"}
    assert settings["wal_compression"] == "on"
    assert settings["max_wal_size"] == "8GB"
    assert settings["shared_buffers"].startswith("${POSTGRES_SHARED_BUFFERS")


def test_the_cluster_profile_is_three_brokers_that_do_not_lose_acknowledged_writes() -> None:
    brokers = [s for s in COMPOSE["services"].values() if "cluster" in s.get("profiles", [])]
    assert len(brokers) == 3
    for broker in brokers:
        env = broker["environment"]
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == 2
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert "controller" in env["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper


def test_partitions_are_at_least_the_maximum_replicas() -> None:
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in _kinds("KafkaTopic")}
    assert _kinds("ScaledObject")
    for scaled in _kinds("ScaledObject"):
        # A consumer beyond the partition count of its inputs would sit idle.
        assert scaled["spec"]["maxReplicaCount"] <= min(partitions.values()), scaled["metadata"]
    config = next(m for m in _kinds("ConfigMap") if m["metadata"]["name"] == "sanzheng-config")
    assert int(config["data"]["SANZHENG_TOPIC_PARTITIONS"]) >= max(
        s["spec"]["maxReplicaCount"] for s in _kinds("ScaledObject")
    )


def test_probes_follow_the_conventions() -> None:
    for deployment in _kinds("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert "app.kubernetes.io/name" in labels
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert len(_kinds("PodDisruptionBudget")) == len(_kinds("Deployment"))


def test_every_school_user_writes_only_its_own_topics() -> None:
    schools = [u for u in _kinds("KafkaUser") if u["metadata"]["name"].startswith("school-")]
    assert schools
    for user in schools:
        school = user["metadata"]["name"].removeprefix("school-").upper()
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl["resource"]["name"].endswith(f".{school}")
            assert "Read" not in acl["operations"]


def test_every_service_user_may_read_every_topic_the_service_consumes() -> None:
    """A route without a Read ACL works on the embedded broker and fails in production."""
    from sanzheng.main import all_specs
    from sanzheng_shared.kafka.topics import TopicNames

    users = {u["metadata"]["name"]: u for u in _kinds("KafkaUser")}
    for spec in all_specs():
        acls = users[f"svc-{spec.name}"]["spec"]["authorization"]["acls"]
        readable = [
            (a["resource"]["name"], a["resource"]["patternType"])
            for a in acls
            if a["resource"]["type"] == "topic" and "Read" in a["operations"]
        ]
        for topic in spec.routes(TopicNames()):
            assert any(
                topic == name or (kind == "prefix" and topic.startswith(name))
                for name, kind in readable
            ), f"svc-{spec.name} may not read {topic}"


SECRET_LITERAL = re.compile(
    r"(password|passwd|secret|token|api[_-]?key)\s*[:=]\s*(?!\s*\$\{)(?!\s*$)['\"]?[A-Za-z0-9+/_\-]{6,}",
    re.I,
)


def test_no_secret_literals_are_committed() -> None:
    files = [
        ROOT / "docker-compose.yml",
        ROOT / ".env",
        *MANIFEST_FILES,
        *(ROOT / "deploy").rglob("*.env"),
    ]
    offenders = []
    for f in files:
        for line in f.read_text().splitlines():
            if line.lstrip().startswith("#") or "secretKeyRef" in line:
                continue
            if SECRET_LITERAL.search(line):
                offenders.append(f"{f.relative_to(ROOT)}: {line.strip()}")
    assert not offenders, offenders
    assert not (ROOT / "deploy" / "kubernetes" / "base" / "secrets.env").exists() or (
        "secrets.env" in (ROOT / ".gitignore").read_text()
    )


def test_the_inbox_is_kept_at_least_as_long_as_the_broker_keeps_records() -> None:
    # Pruning an inbox row the broker can still re-deliver would let a duplicate apply twice.
    [kafka] = _kinds("Kafka")
    hours = kafka["spec"]["kafka"]["config"]["log.retention.hours"]
    config = next(m for m in _kinds("ConfigMap") if m["metadata"]["name"] == "sanzheng-config")
    assert float(config["data"]["SANZHENG_BROKER_RETENTION_DAYS"]) * 24 >= hours
    assert Settings().broker_retention_days * 24 >= hours


def test_compose_gives_each_service_its_own_database_role() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    schemas = [s.replace("-", "_") for s in SERVICE_NAMES]
    assert services["db-roles"]["command"][-len(schemas) :] == schemas
    for name, schema in zip(SERVICE_NAMES, schemas, strict=True):
        url = services[name]["environment"]["SANZHENG_DATABASE_URL"]
        assert url.startswith(f"postgresql://sanzheng_{schema}:"), (name, url)
        assert "db-roles" in services[name]["depends_on"]
