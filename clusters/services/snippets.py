"""'Set up a client': complete programs for the common Kafka clients, filled in for one key.

Each snippet runs as copied (tests/clusters/test_snippets_run.py runs every one against a real
cell): it names a topic of the cluster — the first one, or `orders` with the exact step to create
it when the cluster has none — produces one message and prints where it landed, then reads a
message back and prints it. What a snippet does follows the key's policy: a key that may only
write gets a producer, one that may only read a consumer (a producer-only key's snippet never
joins a consumer group, which its policy would refuse).
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.models import AccessKey, Cluster, Topic
from clusters.services.access.policy import PolicyInvalid, analyze_policy, template_policy

CA_FILE = "skiff-ca.pem"
SECRET_PLACEHOLDER = "<your-key-secret>"  # noqa: S105 (shown in place of a secret)
# The topic a snippet names when the cluster has none yet (the page says how to create it).
DEFAULT_TOPIC = "orders"
# Client versions the snippets are written and tested against.
KAFKA_CLIENTS_VERSION = "4.3.1"
FRANZ_GO_VERSION = "v1.22.3"
KAFKAJS_VERSION = "2.2.4"
CONSUME_TIMEOUT_S = 30
MESSAGE = "hello from Skiff"


@dataclass(frozen=True)
class Snippet:
    key: str
    label: str
    language: str
    text: str
    filename: str  # what the page tells the user to save it as
    run: str  # how to run it, as typed in a shell


@dataclass(frozen=True)
class ClientSetup:
    """What the 'Set up a client' card shows for one key."""

    topic: str  # short name
    wire_topic: str
    topic_exists: bool
    produces: bool
    consumes: bool
    snippets: list[Snippet]

    @property
    def does(self) -> str:
        if self.produces and self.consumes:
            return "produces one message and reads it back"
        if self.produces:
            return "produces one message (this key may not read, so there is no consumer)"
        if self.consumes:
            return "reads one message (this key may not write, so there is no producer)"
        return "connects and lists what the key may see (this key may neither write nor read)"


@dataclass(frozen=True)
class _Ctx:
    bootstrap: str
    username: str
    password: str
    topic: str  # wire name
    group: str  # wire name, without the client's suffix
    produces: bool
    consumes: bool
    # Whether the cluster's cell also offers SASL/PLAIN (issue 17): the kcat snippet then uses
    # it, because the kcat most systems ship links a librdkafka whose SCRAM Kafka 4 refuses.
    plain: bool = False

    def group_for(self, client: str) -> str:
        # One group per client kind: each snippet reads from where its own group stopped.
        return f"{self.group}-{client}"


def key_capabilities(key: AccessKey) -> tuple[bool, bool]:
    """(may produce, may consume) under the key's policy, from the ACLs it compiles to."""
    cluster = key.cluster
    if key.policy_template == "custom":
        document = key.policy_document or {}
    else:
        document = template_policy(key.policy_template, cluster)
    try:
        bindings = analyze_policy(document, cluster=cluster, username=key.username).bindings
    except PolicyInvalid:
        return True, True

    def allowed(resource_type: str, operation: str) -> bool:
        ops = {operation, "ALL"}
        hits = [b for b in bindings if b.resource_type == resource_type and b.operation in ops]
        return any(b.permission == "ALLOW" for b in hits) and not any(
            b.permission == "DENY" and b.resource_name == cluster.wire_prefix for b in hits
        )

    produces = allowed("TOPIC", "WRITE")
    consumes = allowed("TOPIC", "READ") and allowed("GROUP", "READ")
    return produces, consumes


def client_setup(key: AccessKey, *, secret: str | None) -> ClientSetup:
    cluster: Cluster = key.cluster
    first = Topic.objects.filter(cluster=cluster).order_by("name").values_list("name", flat=True)
    existing = first.first()
    topic = existing or DEFAULT_TOPIC
    produces, consumes = key_capabilities(key)
    ctx = _Ctx(
        bootstrap=cluster.bootstrap_servers or "<pending>",
        username=key.username,
        password=secret or SECRET_PLACEHOLDER,
        topic=f"{cluster.wire_prefix}{topic}",
        group=f"{cluster.wire_prefix}{topic}-reader",
        produces=produces,
        consumes=consumes,
        plain=cluster.cell is not None and cluster.cell.kind == "local",
    )
    snippets = [
        Snippet(
            "python",
            "Python (confluent-kafka)",
            "python",
            _python(ctx),
            "skiff_client.py",
            "pip install confluent-kafka && python skiff_client.py",
        ),
        Snippet(
            "java",
            "Java (kafka-clients)",
            "java",
            _java(ctx),
            "SkiffClient.java",
            f"java -cp 'lib/*' SkiffClient.java  # lib/: org.apache.kafka:kafka-clients:"
            f"{KAFKA_CLIENTS_VERSION} and its dependencies",
        ),
        Snippet(
            "properties",
            "client.properties",
            "properties",
            _properties(ctx),
            "client.properties",
            "read by SkiffClient.java (or any Java client: kafka-console-producer.sh "
            "--command-config client.properties …)",
        ),
        Snippet(
            "go",
            "Go (franz-go)",
            "go",
            _go(ctx),
            "main.go",
            f"go mod init skiff-client && go get github.com/twmb/franz-go@{FRANZ_GO_VERSION} "
            "&& go mod tidy && go run .",
        ),
        Snippet(
            "node",
            "Node.js (kafkajs)",
            "javascript",
            _node(ctx),
            "skiff-client.js",
            f"npm install kafkajs@{KAFKAJS_VERSION} && node skiff-client.js",
        ),
        Snippet("kcat", "kcat", "shell", _kcat(ctx), "skiff-kcat.sh", "sh skiff-kcat.sh"),
    ]
    return ClientSetup(
        topic=topic,
        wire_topic=ctx.topic,
        topic_exists=existing is not None,
        produces=produces,
        consumes=consumes,
        snippets=snippets,
    )


def client_snippets(key: AccessKey, *, secret: str | None) -> list[Snippet]:
    return client_setup(key, secret=secret).snippets


# --- Python -------------------------------------------------------------------------------------


def _python(c: _Ctx) -> str:
    wanted = (("Consumer", c.consumes), ("Producer", c.produces))
    names = ", ".join(name for name, on in wanted if on) or "Producer"
    parts = [
        f'''import sys
import time

from confluent_kafka import {names}

TOPIC = "{c.topic}"
config = {{
    "bootstrap.servers": "{c.bootstrap}",
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "{c.username}",
    "sasl.password": "{c.password}",
    "ssl.ca.location": "{CA_FILE}",
}}
'''
    ]
    if c.produces:
        parts.append(f'''
delivered = []


def on_delivery(err, msg):
    if err is not None:
        sys.exit(f"delivery failed: {{err}}")
    delivered.append(msg)
    print(f"delivered to {{msg.topic()}} [{{msg.partition()}}] at offset {{msg.offset()}}")


producer = Producer(config)
producer.produce(TOPIC, key=b"order-1", value=b"{MESSAGE}", on_delivery=on_delivery)
if producer.flush(15) or not delivered:
    sys.exit("the message was not delivered within 15 s")
''')
    if c.consumes:
        parts.append(f'''
consumer = Consumer(
    {{**config, "group.id": "{c.group_for("python")}", "auto.offset.reset": "earliest"}}
)
consumer.subscribe([TOPIC])
try:
    deadline = time.monotonic() + {CONSUME_TIMEOUT_S}
    while True:
        if time.monotonic() > deadline:
            sys.exit("no message within {CONSUME_TIMEOUT_S} s")
        message = consumer.poll(1.0)  # the first polls also join the group
        if message is None:
            continue
        if message.error():
            sys.exit(f"consume failed: {{message.error()}}")
        value = message.value().decode()
        print(f"consumed {{value!r}} from [{{message.partition()}}] at offset {{message.offset()}}")
        break
finally:
    consumer.close()
''')
    if not c.produces and not c.consumes:
        parts.append("""
producer = Producer(config)
print(sorted(producer.list_topics(timeout=15).topics))
""")
    return "".join(parts)


# --- Java ---------------------------------------------------------------------------------------


def _properties(c: _Ctx) -> str:
    return f"""bootstrap.servers={c.bootstrap}
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
  username="{c.username}" \\
  password="{c.password}";
ssl.truststore.type=PEM
ssl.truststore.location={CA_FILE}
"""


def _java(c: _Ctx) -> str:
    imports = ["java.io.FileReader", "java.util.Properties"]
    body: list[str] = []
    if c.produces:
        imports += [
            "org.apache.kafka.clients.producer.KafkaProducer",
            "org.apache.kafka.clients.producer.ProducerRecord",
            "org.apache.kafka.clients.producer.RecordMetadata",
            "org.apache.kafka.common.serialization.StringSerializer",
        ]
        body.append(f"""
        Properties producerConfig = new Properties();
        producerConfig.putAll(config);
        producerConfig.put("key.serializer", StringSerializer.class.getName());
        producerConfig.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig)) {{
            RecordMetadata sent =
                producer.send(new ProducerRecord<>(TOPIC, "order-1", "{MESSAGE}")).get();
            System.out.printf("delivered to %s [%d] at offset %d%n",
                sent.topic(), sent.partition(), sent.offset());
        }}
""")
    if c.consumes:
        imports += [
            "java.time.Duration",
            "java.util.List",
            "org.apache.kafka.clients.consumer.ConsumerRecord",
            "org.apache.kafka.clients.consumer.KafkaConsumer",
            "org.apache.kafka.common.serialization.StringDeserializer",
        ]
        body.append(f"""
        Properties consumerConfig = new Properties();
        consumerConfig.putAll(config);
        consumerConfig.put("group.id", "{c.group_for("java")}");
        consumerConfig.put("auto.offset.reset", "earliest");
        consumerConfig.put("key.deserializer", StringDeserializer.class.getName());
        consumerConfig.put("value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig)) {{
            consumer.subscribe(List.of(TOPIC));
            long deadline = System.currentTimeMillis() + {CONSUME_TIMEOUT_S * 1000};
            while (true) {{
                if (System.currentTimeMillis() > deadline) {{
                    System.err.println("no message within {CONSUME_TIMEOUT_S} s");
                    System.exit(1);
                }}
                var records = consumer.poll(Duration.ofSeconds(1));
                if (records.isEmpty()) {{
                    continue;
                }}
                ConsumerRecord<String, String> first = records.iterator().next();
                System.out.printf(
                    "consumed '%s' from [%d] at offset %d%n",
                    first.value(), first.partition(), first.offset());
                consumer.commitSync();
                break;
            }}
        }}
""")
    if not c.produces and not c.consumes:
        imports += ["org.apache.kafka.clients.admin.Admin"]
        body.append("""
        try (Admin admin = Admin.create(config)) {
            System.out.println(admin.listTopics().names().get());
        }
""")
    import_lines = "\n".join(f"import {name};" for name in sorted(set(imports)))
    return f"""// Needs in lib/: org.apache.kafka:kafka-clients:{KAFKA_CLIENTS_VERSION} with its
// dependencies; client.properties and {CA_FILE} beside this file.
// Run: java -cp 'lib/*' SkiffClient.java
{import_lines}

public class SkiffClient {{
    static final String TOPIC = "{c.topic}";

    public static void main(String[] args) throws Exception {{
        Properties config = new Properties();
        try (FileReader in = new FileReader("client.properties")) {{
            config.load(in);
        }}
{"".join(body)}    }}
}}
"""


# --- Go -----------------------------------------------------------------------------------------


def _go(c: _Ctx) -> str:
    seeds = ", ".join(f'"{address}"' for address in c.bootstrap.split(","))
    options = [
        f"kgo.SeedBrokers({seeds}),",
        "kgo.DialTLSConfig(&tls.Config{RootCAs: pool}),",
        f'kgo.SASL(scram.Auth{{User: "{c.username}", Pass: "{c.password}"}}.AsSha512Mechanism()),',
    ]
    if c.consumes:
        options += [
            f'kgo.ConsumerGroup("{c.group_for("go")}"),',
            "kgo.ConsumeTopics(topic),",
            "kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),",
        ]
    body: list[str] = []
    if c.produces:
        body.append(f"""
	record := &kgo.Record{{Topic: topic, Key: []byte("order-1"), Value: []byte("{MESSAGE}")}}
	if err := client.ProduceSync(ctx, record).FirstErr(); err != nil {{
		log.Fatalf("produce: %v", err)
	}}
	fmt.Printf("delivered to %s [%d] at offset %d\\n",
		record.Topic, record.Partition, record.Offset)
""")
    if c.consumes:
        body.append(f"""
	for {{
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {{
			log.Fatal("no message within {CONSUME_TIMEOUT_S} s")
		}}
		if errs := fetches.Errors(); len(errs) > 0 {{
			log.Fatalf("consume: %v", errs)
		}}
		if records := fetches.Records(); len(records) > 0 {{
			first := records[0]
			fmt.Printf("consumed %q from [%d] at offset %d\\n",
				first.Value, first.Partition, first.Offset)
			if err := client.CommitUncommittedOffsets(ctx); err != nil {{
				log.Fatalf("commit: %v", err)
			}}
			break
		}}
	}}
""")
    if not c.produces and not c.consumes:
        body.append("""
	if err := client.Ping(ctx); err != nil {
		log.Fatalf("connect: %v", err)
	}
	fmt.Println("connected")
""")
    option_lines = "\n".join(f"\t\t{o}" for o in options)
    fmt_import = '\t"fmt"\n' if body else ""
    return f"""// Save as main.go, put {CA_FILE} beside it, then:
//   go mod init skiff-client && go get github.com/twmb/franz-go@{FRANZ_GO_VERSION}
//   go mod tidy && go run .
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
{fmt_import}	"log"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func main() {{
	caPEM, err := os.ReadFile("{CA_FILE}")
	if err != nil {{
		log.Fatal(err)
	}}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {{
		log.Fatal("{CA_FILE} holds no certificate")
	}}
	const topic = "{c.topic}"
	client, err := kgo.NewClient(
{option_lines}
	)
	if err != nil {{
		log.Fatal(err)
	}}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), {CONSUME_TIMEOUT_S}*time.Second)
	defer cancel()
{"".join(body)}}}
"""


# --- Node ---------------------------------------------------------------------------------------


def _node(c: _Ctx) -> str:
    brokers = ", ".join(f"'{address}'" for address in c.bootstrap.split(","))
    body: list[str] = []
    if c.produces:
        body.append(f"""
  const producer = kafka.producer({{ createPartitioner: Partitioners.DefaultPartitioner }})
  await producer.connect()
  const [sent] = await producer.send({{
    topic,
    messages: [{{ key: 'order-1', value: '{MESSAGE}' }}],
  }})
  const where = `${{sent.topicName}} [${{sent.partition}}] at offset ${{sent.baseOffset}}`
  console.log(`delivered to ${{where}}`)
  await producer.disconnect()
""")
    if c.consumes:
        body.append(f"""
  const consumer = kafka.consumer({{ groupId: '{c.group_for("node")}' }})
  await consumer.connect()
  await consumer.subscribe({{ topics: [topic], fromBeginning: true }})
  const first = await new Promise((resolve, reject) => {{
    const timer = setTimeout(
      () => reject(new Error('no message within {CONSUME_TIMEOUT_S} s')),
      {CONSUME_TIMEOUT_S * 1000}
    )
    consumer
      .run({{
        eachMessage: async ({{ partition, message }}) => {{
          clearTimeout(timer)
          resolve({{ partition, message }})
        }},
      }})
      .catch(reject)
  }})
  const {{ partition, message }} = first
  console.log(`consumed '${{message.value}}' from [${{partition}}] at offset ${{message.offset}}`)
  await consumer.disconnect()
""")
    if not c.produces and not c.consumes:
        body.append("""
  const admin = kafka.admin()
  await admin.connect()
  console.log(await admin.listTopics())
  await admin.disconnect()
""")
    return f"""// Save as skiff-client.js (CommonJS), put {CA_FILE} beside it, then:
// npm install kafkajs@{KAFKAJS_VERSION} && node skiff-client.js
const fs = require('fs')
const {{ Kafka, Partitioners, logLevel }} = require('kafkajs')

const topic = '{c.topic}'
const kafka = new Kafka({{
  clientId: 'skiff-client',
  brokers: [{brokers}],
  ssl: {{ ca: [fs.readFileSync('{CA_FILE}', 'utf-8')] }},
  sasl: {{ mechanism: 'scram-sha-512', username: '{c.username}', password: '{c.password}' }},
  logLevel: logLevel.WARN,
}})

async function main() {{{"".join(body)}}}

main().catch((err) => {{
  console.error(err)
  process.exit(1)
}})
"""


# --- kcat ---------------------------------------------------------------------------------------


def _kcat(c: _Ctx) -> str:
    lines = [
        *(
            [
                "# PLAIN over TLS: works with any kcat, including Debian's and Ubuntu's, whose",
                "# librdkafka (< 2.6.1) fails Kafka 4's SCRAM check. See docs/clients.md.",
            ]
            if c.plain
            else ["# Needs kcat with librdkafka 2.6.1 or newer (SCRAM-SHA-512 over TLS)."]
        ),
        "cat > skiff-kcat.conf <<'EOF'",
        f"bootstrap.servers={c.bootstrap}",
        "security.protocol=SASL_SSL",
        f"sasl.mechanisms={'PLAIN' if c.plain else 'SCRAM-SHA-512'}",
        f"sasl.username={c.username}",
        f"sasl.password={c.password}",
        f"ssl.ca.location={CA_FILE}",
        "EOF",
        "set -e",
    ]
    if c.produces:
        lines += [
            "# Produce one message (key order-1).",
            f"echo 'order-1:{MESSAGE}' | kcat -F skiff-kcat.conf -P -t {c.topic} -K:",
            f"echo 'delivered to {c.topic}'",
        ]
    if c.consumes:
        lines += [
            "# Read one message from the start of the topic, then exit (-c 1).",
            f"kcat -F skiff-kcat.conf -C -t {c.topic} -o beginning -c 1 \\",
            "  -f 'consumed %s from [%p] at offset %o\\n'",
        ]
    if not c.produces and not c.consumes:
        lines.append("kcat -F skiff-kcat.conf -L")
    return "\n".join(lines) + "\n"
