"""'Set up a client': filled-in configuration for the common Kafka clients."""

from dataclasses import dataclass

from clusters.models import Cluster

CA_FILE = "skiff-ca.pem"
SECRET_PLACEHOLDER = "<your-key-secret>"  # noqa: S105 (shown in place of a secret)


@dataclass(frozen=True)
class Snippet:
    key: str
    label: str
    language: str
    text: str


def client_snippets(cluster: Cluster, *, username: str, secret: str | None) -> list[Snippet]:
    bootstrap = cluster.bootstrap_servers or "<pending>"
    password = secret or SECRET_PLACEHOLDER
    topic = f"{cluster.wire_prefix}orders"
    group = f"{cluster.wire_prefix}orders-reader"
    return [
        Snippet(
            "python",
            "Python (confluent-kafka)",
            "python",
            _python(bootstrap, username, password, topic, group),
        ),
        Snippet(
            "java", "Java (client.properties)", "properties", _java(bootstrap, username, password)
        ),
        Snippet("go", "Go (franz-go)", "go", _go(bootstrap, username, password, topic)),
        Snippet(
            "node", "Node.js (kafkajs)", "javascript", _node(bootstrap, username, password, topic)
        ),
        Snippet("kcat", "kcat", "shell", _kcat(bootstrap, username, password, topic)),
    ]


def _python(bootstrap: str, username: str, password: str, topic: str, group: str) -> str:
    return f'''from confluent_kafka import Consumer, Producer

config = {{
    "bootstrap.servers": "{bootstrap}",
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "{username}",
    "sasl.password": "{password}",
    "ssl.ca.location": "{CA_FILE}",
}}

producer = Producer(config)
producer.produce("{topic}", key=b"order-1", value=b"hello from Skiff")
producer.flush(10)

consumer = Consumer({{**config, "group.id": "{group}", "auto.offset.reset": "earliest"}})
consumer.subscribe(["{topic}"])
message = consumer.poll(15)  # the first poll also joins the group
print(message.value() if message and not message.error() else message)
consumer.close()
'''


def _java(bootstrap: str, username: str, password: str) -> str:
    return f"""bootstrap.servers={bootstrap}
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
  username="{username}" \\
  password="{password}";
ssl.truststore.type=PEM
ssl.truststore.location={CA_FILE}
"""


def _go(bootstrap: str, username: str, password: str, topic: str) -> str:
    seeds = ", ".join(f'"{address}"' for address in bootstrap.split(","))
    return f"""// go get github.com/twmb/franz-go/pkg/kgo github.com/twmb/franz-go/pkg/sasl/scram
caPEM, _ := os.ReadFile("{CA_FILE}")
pool := x509.NewCertPool()
pool.AppendCertsFromPEM(caPEM)

client, err := kgo.NewClient(
    kgo.SeedBrokers({seeds}),
    kgo.DialTLSConfig(&tls.Config{{RootCAs: pool}}),
    kgo.SASL(scram.Auth{{User: "{username}", Pass: "{password}"}}.AsSha512Mechanism()),
    kgo.DefaultProduceTopic("{topic}"),
)
"""


def _node(bootstrap: str, username: str, password: str, topic: str) -> str:
    brokers = ", ".join(f"'{address}'" for address in bootstrap.split(","))
    return f"""// npm install kafkajs
const fs = require('fs')
const {{ Kafka }} = require('kafkajs')

const kafka = new Kafka({{
  brokers: [{brokers}],
  ssl: {{ ca: [fs.readFileSync('{CA_FILE}', 'utf-8')] }},
  sasl: {{ mechanism: 'scram-sha-512', username: '{username}', password: '{password}' }},
}})
const producer = kafka.producer()
await producer.connect()
await producer.send({{ topic: '{topic}', messages: [{{ value: 'hello from Skiff' }}] }})
"""


def _kcat(bootstrap: str, username: str, password: str, topic: str) -> str:
    return f"""kcat -b {bootstrap} \\
  -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 \\
  -X sasl.username='{username}' -X sasl.password='{password}' \\
  -X ssl.ca.location={CA_FILE} \\
  -C -t {topic} -o beginning
"""
