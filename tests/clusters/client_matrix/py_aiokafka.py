"""Python client of the matrix: aiokafka (asyncio, pure Python)."""

import asyncio
import os
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.helpers import create_ssl_context


async def main() -> None:
    conf = {
        "bootstrap_servers": os.environ["BOOTSTRAP"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": os.environ["MECHANISM"],
        "sasl_plain_username": os.environ["USERNAME"],
        "sasl_plain_password": os.environ["PASSWORD"],
        "ssl_context": create_ssl_context(cafile=os.environ["CA"]),
    }
    topic, count = os.environ["TOPIC"], int(os.environ["COUNT"])
    producer = AIOKafkaProducer(acks="all", request_timeout_ms=20000, **conf)
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(topic, f"aio-{i}".encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, group_id=os.environ["GROUP"], auto_offset_reset="earliest", **conf
    )
    await consumer.start()
    seen = set()
    deadline = time.monotonic() + 60
    try:
        while len(seen) < count:
            if time.monotonic() > deadline:
                sys.exit(f"consumed {len(seen)} of {count}")
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                seen.update(r.value for r in records)
        await consumer.commit()
    finally:
        await consumer.stop()
    print(f"OK produced={count} consumed={len(seen)}")


asyncio.run(main())
