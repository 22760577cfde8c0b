#!/bin/sh
# kcat client of the matrix: Debian's kcat (librdkafka 2.0.2 on Debian 12), run unmodified.
set -eu
KCAT="${KCAT:-kcat}"
set -- -b "$BOOTSTRAP" -X security.protocol=SASL_SSL -X "sasl.mechanisms=$MECHANISM" \
    -X "sasl.username=$USERNAME" -X "sasl.password=$PASSWORD" -X "ssl.ca.location=$CA"
seq 0 $((COUNT - 1)) | sed 's/^/kcat-/' | "$KCAT" "$@" -P -t "$TOPIC" -X acks=all
got=$("$KCAT" "$@" -X auto.offset.reset=earliest -G "$GROUP" -c "$COUNT" -e -q "$TOPIC" | sort -u | wc -l)
[ "$got" -eq "$COUNT" ] || { echo "consumed $got of $COUNT" >&2; exit 1; }
echo "OK produced=$COUNT consumed=$got"
