#!/bin/sh
# Start one broker of a docker-compose Skiff cell (combined KRaft broker + controller).
#
# Everything node-specific was written by the compose `fleet-init` step
# (fleet/runtime/compose.py: write_compose_cell) into the shared volume:
#   $SKIFF_FLEET_DIR/cluster.id               the cell's KRaft cluster id
#   $SKIFF_FLEET_DIR/$SKIFF_NODE/server.properties
#   $SKIFF_FLEET_DIR/$SKIFF_NODE/format.args  extra `kafka-storage format` arguments, one per
#                                             line (the bootstrap SCRAM credentials)
#   $SKIFF_FLEET_DIR/$SKIFF_NODE/keystore.pem, truststore.pem   TLS material (PEM)
# This script formats the node's storage the first time (never again: an existing
# meta.properties is kept) and then replaces itself with the broker JVM.
set -eu

node="${SKIFF_NODE:?set SKIFF_NODE to the node directory name, e.g. kafka-1}"
fleet="${SKIFF_FLEET_DIR:-/fleet}"
kafka_home="${KAFKA_HOME:-/opt/kafka}"
conf="$fleet/$node/server.properties"
format_args="$fleet/$node/format.args"

if [ ! -r "$conf" ] || [ ! -r "$fleet/cluster.id" ]; then
    echo "skiff: $conf or $fleet/cluster.id is missing; run the fleet-init step first" >&2
    exit 64
fi

# The value of a key in server.properties (first occurrence, no continuation lines).
prop() {
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$conf" | head -n 1
}

meta_dir="$(prop 'metadata\.log\.dir')"
if [ -z "$meta_dir" ]; then
    meta_dir="$(prop 'log\.dirs' | cut -d, -f1)"
fi
if [ -z "$meta_dir" ]; then
    echo "skiff: neither metadata.log.dir nor log.dirs is set in $conf" >&2
    exit 64
fi

classpath="$kafka_home/libs/*"
logs_dir="${SKIFF_LOGS_DIR:-/var/lib/kafka/logs}"
mkdir -p "$logs_dir"
log_opts="-Dlog4j2.configurationFile=$kafka_home/config/log4j2.yaml -Dkafka.logs.dir=$logs_dir"

if [ ! -f "$meta_dir/meta.properties" ]; then
    echo "skiff: formatting $meta_dir for $node (cluster $(cat "$fleet/cluster.id"))"
    set --
    if [ -r "$format_args" ]; then
        while IFS= read -r arg || [ -n "$arg" ]; do
            [ -n "$arg" ] && set -- "$@" "$arg"
        done < "$format_args"
    fi
    # shellcheck disable=SC2086 # log_opts is a list of JVM options
    java $log_opts -cp "$classpath" kafka.tools.StorageTool format \
        --config "$conf" \
        --cluster-id "$(cat "$fleet/cluster.id")" \
        --ignore-formatted \
        "$@"
fi

# Metrics behind authentication (issue 13): fleet-init's per-node exporter config asks for the
# cell's metrics credential; the image's own config is only a fallback for older volumes.
metrics_config="$fleet/$node/jmx-exporter.yaml"
[ -r "$metrics_config" ] || metrics_config="$kafka_home/config/jmx-exporter.yaml"
agent="-javaagent:$kafka_home/agent/jmx_prometheus_javaagent.jar=${SKIFF_METRICS_PORT:-7071}:$metrics_config"
# shellcheck disable=SC2086 # the *_OPTS variables are lists of JVM options
exec java \
    ${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g} \
    ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true} \
    ${KAFKA_OPTS:-} \
    $log_opts \
    "$agent" \
    -cp "$classpath" \
    kafka.Kafka "$conf"
