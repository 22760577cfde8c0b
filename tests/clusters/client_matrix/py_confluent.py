"""Python client of the matrix: confluent-kafka (current, and 2.3.0 in its own venv)."""

import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer

conf = {
    "bootstrap.servers": os.environ["BOOTSTRAP"],
    "security.protocol": "SASL_SSL",
    "sasl.mechanisms": os.environ["MECHANISM"],
    "sasl.username": os.environ["USERNAME"],
    "sasl.password": os.environ["PASSWORD"],
    "ssl.ca.location": os.environ["CA"],
}
topic, count = os.environ["TOPIC"], int(os.environ["COUNT"])
errors = []


def delivered(err, msg):
    if err is not None:
        errors.append(err)


def fatal(err):
    raise KafkaException(err)


producer = Producer({**conf, "acks": "all", "message.timeout.ms": 30000, "error_cb": fatal})
for i in range(count):
    producer.produce(topic, value=f"py-{i}".encode(), on_delivery=delivered)
    producer.poll(0)
    if errors:
        break
producer.flush(30)
if errors:
    sys.exit(f"produce failed: {errors[0]}")

consumer = Consumer(
    {**conf, "group.id": os.environ["GROUP"], "auto.offset.reset": "earliest", "error_cb": fatal}
)
consumer.subscribe([topic])
seen = set()
deadline = time.monotonic() + 60
while len(seen) < count:
    if time.monotonic() > deadline:
        sys.exit(f"consumed {len(seen)} of {count}")
    msg = consumer.poll(0.5)
    if msg is None:
        continue
    if msg.error():
        sys.exit(f"consume failed: {msg.error()}")
    seen.add(msg.value())
consumer.close()
print(f"OK produced={count} consumed={len(seen)}")
