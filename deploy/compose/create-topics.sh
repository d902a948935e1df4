#!/usr/bin/env bash
# Creates the topics of SPEC §3 (idempotent). Run by the compose `topics` service.
set -euo pipefail
# Every topic has its dead-letter topic `<topic>.dlq` (each is consumed by some service);
# a DLQ topic takes 2 MiB messages: a dead letter is a message of up to 1 MiB plus headers.
topics=(sis.rejections sis.rejections.dlq graduation.events graduation.events.dlq)
for domain in enrollment internship labor-education certificates credits; do
  topics+=("sis.${domain}" "sis.${domain}.dlq" "${domain}.events" "${domain}.events.dlq")
done
for topic in "${topics[@]}"; do
  config=()
  if [[ "${topic}" == *.dlq ]]; then config=(--config max.message.bytes=2097152); fi
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "${BOOTSTRAP}" --create --if-not-exists \
    --topic "${topic}" --partitions "${PARTITIONS}" --replication-factor "${REPLICATION}" \
    ${config[@]+"${config[@]}"}
done
echo "topics ready: ${#topics[@]} with ${PARTITIONS} partitions, replication ${REPLICATION}"
