#!/bin/sh
# create-topics.sh - creates the satisfy topics on a real Kafka cluster with
# kafka-topics.sh (Apache Kafka's own tool): the Kubernetes Job
# (deploy/k8s/topics-job.yaml, through kustomize's configMapGenerator) and the
# Compose `kafka` profile (deploy/compose.yaml) both run this file, and
# docs/deploy.md shows the same commands. Idempotent (--if-not-exists).
#
# Environment: SATISFY_BROKERS (bootstrap list), SATISFY_PARTITIONS
# (default 16), SATISFY_REPLICATION (default 1; 3 on a production cluster),
# SATISFY_MODELS_MAX_BYTES (largest release, default 16 MiB), KAFKA_TOPICS
# (the tool, default /opt/kafka/bin/kafka-topics.sh), KAFKA_COMMAND_CONFIG
# (a client properties file for SASL/TLS, passed as --command-config).
#
# Olist events carry 2016-2018 timestamps, so the six stream topics keep
# messages forever (retention.ms=-1, as docs/operations.md) instead of
# deleting the replayed history at once (satisfy.metrics is not compacted: the
# web app draws each version's whole online-accuracy series from it);
# satisfy.models is compacted (the newest release per version key) and takes
# messages up to SATISFY_MODELS_MAX_BYTES (a release is the whole artifact);
# satisfy.history (the live seller and customer state the retrainer writes
# and every scorer reads from the start) is compacted, kept forever, with
# the partitions of satisfy.orders. satisfy.alerts (at-risk orders, keyed by
# order id like satisfy.predictions, with its partitions) is kept forever
# too: a scorer rebuilds its "already alerted" set from it (operations.md).
# satisfy.shadow holds the challenger's predictions (shadow scoring), like
# satisfy.predictions.
set -eu

: "${SATISFY_BROKERS:?SATISFY_BROKERS: the Kafka bootstrap list}"
partitions="${SATISFY_PARTITIONS:-16}"
rf="${SATISFY_REPLICATION:-1}"
models_max="${SATISFY_MODELS_MAX_BYTES:-16777216}"
tool="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"

create() { # TOPIC PARTITIONS CONFIG...
  topic="$1" n="$2"
  shift 2
  set -- --bootstrap-server "$SATISFY_BROKERS" --create --if-not-exists --topic "$topic" \
    --partitions "$n" --replication-factor "$rf" "$@"
  if [ -n "${KAFKA_COMMAND_CONFIG:-}" ]; then
    set -- "$@" --command-config "$KAFKA_COMMAND_CONFIG"
  fi
  "$tool" "$@"
  echo "create-topics: $topic ok"
}

for t in satisfy.orders satisfy.reviews satisfy.predictions satisfy.dlq satisfy.metrics satisfy.alerts satisfy.shadow; do
  create "$t" "$partitions" --config retention.ms=-1
done
create satisfy.models 1 --config cleanup.policy=compact --config max.message.bytes="$models_max"
create satisfy.history "$partitions" --config cleanup.policy=compact
