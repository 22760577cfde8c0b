"""Python client of the matrix: kafka-python (pure Python)."""

import os
import ssl
import sys
import time

from kafka import KafkaConsumer, KafkaProducer

context = ssl.create_default_context(cafile=os.environ["CA"])
conf = {
    "bootstrap_servers": os.environ["BOOTSTRAP"].split(","),
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": os.environ["MECHANISM"],
    "sasl_plain_username": os.environ["USERNAME"],
    "sasl_plain_password": os.environ["PASSWORD"],
    "ssl_context": context,
}
topic, count = os.environ["TOPIC"], int(os.environ["COUNT"])
producer = KafkaProducer(acks="all", max_block_ms=20000, **conf)
for i in range(count):
    producer.send(topic, f"kp-{i}".encode()).get(timeout=30)
producer.close()

consumer = KafkaConsumer(topic, group_id=os.environ["GROUP"], auto_offset_reset="earliest", **conf)
seen = set()
deadline = time.monotonic() + 60
while len(seen) < count:
    if time.monotonic() > deadline:
        sys.exit(f"consumed {len(seen)} of {count}")
    for records in consumer.poll(timeout_ms=500).values():
        seen.update(r.value for r in records)
consumer.commit()
consumer.close()
print(f"OK produced={count} consumed={len(seen)}")
