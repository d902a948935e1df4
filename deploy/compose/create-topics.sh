#!/usr/bin/env bash
# Creates the topics of SPEC §3 (idempotent). Run by the compose `topics` service.
set -euo pipefail
topics=(sis.rejections graduation.events graduation.events.dlq)
for domain in enrollment internship labor-education certificates; do
  topics+=("sis.${domain}" "sis.${domain}.dlq" "${domain}.events" "${domain}.events.dlq")
done
for topic in "${topics[@]}"; do
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "${BOOTSTRAP}" --create --if-not-exists \
    --topic "${topic}" --partitions "${PARTITIONS}" --replication-factor "${REPLICATION}"
done
echo "topics ready: ${#topics[@]} with ${PARTITIONS} partitions, replication ${REPLICATION}"
