"""Every consumed topic and its dead-letter topic exist wherever topics are created: in code
(`sanzheng up`), in compose's `topics` step and in the Strimzi topics. Auto-creation is off
in compose and Strimzi, so a DLQ topic missing there once stopped a relay for good."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import yaml

from sanzheng.main import all_specs
from sanzheng_shared.kafka.topics import DLQ_MAX_MESSAGE_BYTES, TopicNames

ROOT = Path(__file__).resolve().parents[2]
TOPICS = TopicNames()


def _consumed() -> set[str]:
    return {topic for spec in all_specs() for topic in spec.routes(TOPICS)}


def _required() -> set[str]:
    return {name for topic in _consumed() for name in (topic, TOPICS.dlq(topic))}


def _compose_created(tmp_path: Path) -> dict[str, list[str]]:
    """Runs the compose script against a stand-in `kafka-topics.sh` that records its calls."""
    log = tmp_path / "calls"
    stub = tmp_path / "kafka-topics.sh"
    stub.write_text(f'#!/usr/bin/env bash\necho "$@" >> {log}\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    script = (ROOT / "deploy/compose/create-topics.sh").read_text()
    script = script.replace("/opt/kafka/bin/kafka-topics.sh", str(stub))
    (tmp_path / "create-topics.sh").write_text(script)
    env = {**os.environ, "BOOTSTRAP": "kafka:9092", "PARTITIONS": "6", "REPLICATION": "3"}
    subprocess.run(["bash", tmp_path / "create-topics.sh"], env=env, check=True)
    created = {}
    for line in log.read_text().splitlines():
        args = line.split()
        created[args[args.index("--topic") + 1]] = args
    return created


def _strimzi_topics() -> dict[str, dict]:
    docs = yaml.safe_load_all((ROOT / "deploy/kubernetes/base/kafka/topics.yaml").read_text())
    return {d["spec"]["topicName"]: d["spec"] for d in docs if d and d["kind"] == "KafkaTopic"}


def test_the_list_is_derived_from_the_services_subscriptions() -> None:
    consumed = _consumed()
    assert {"sis.rejections", "graduation.events", "sis.enrollment"} <= consumed
    assert "sis.rejections.dlq" in _required()


def test_the_code_creates_every_consumed_topic_and_its_dlq() -> None:
    missing = _required() - set(TOPICS.all())
    assert not missing, f"`sanzheng up` would not create {sorted(missing)}"
    for name in TOPICS.all():
        expected = str(DLQ_MAX_MESSAGE_BYTES) if name.endswith(".dlq") else None
        assert TOPICS.config(name).get("max.message.bytes") == expected, name


def test_compose_creates_every_consumed_topic_and_its_dlq(tmp_path: Path) -> None:
    created = _compose_created(tmp_path)
    missing = _required() - set(created)
    assert not missing, f"compose's topics step would not create {sorted(missing)}"
    for name, args in created.items():
        has_config = f"max.message.bytes={DLQ_MAX_MESSAGE_BYTES}" in args
        assert has_config == name.endswith(".dlq"), name


def test_strimzi_declares_every_consumed_topic_and_its_dlq() -> None:
    topics = _strimzi_topics()
    missing = _required() - set(topics)
    assert not missing, f"no KafkaTopic for {sorted(missing)}"
    for name, spec in topics.items():
        if name.endswith(".dlq"):
            assert spec["config"]["max.message.bytes"] >= DLQ_MAX_MESSAGE_BYTES, name
