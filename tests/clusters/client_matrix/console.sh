#!/bin/sh
# Kafka's own console producer and consumer (the broker's 4.3 tools jar), with client.properties.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/client.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=$MECHANISM
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$USERNAME" password="$PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$CA
PROPS
run() { java -Xmx256m -cp "$KAFKA_LIB/*" "$@"; }
seq 0 $((COUNT - 1)) | sed 's/^/console-/' | run org.apache.kafka.tools.ConsoleProducer \
    --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" --producer.config "$dir/client.properties" \
    --command-property acks=all --command-property max.block.ms=20000
got=$(run org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOTSTRAP" \
    --topic "$TOPIC" --group "$GROUP" --from-beginning --max-messages "$COUNT" \
    --timeout-ms 60000 --consumer.config "$dir/client.properties" 2>/dev/null \
    | grep "^console-" | sort -u | wc -l)
[ "$got" -eq "$COUNT" ] || { echo "consumed $got of $COUNT" >&2; exit 1; }
echo "OK produced=$COUNT consumed=$got"
