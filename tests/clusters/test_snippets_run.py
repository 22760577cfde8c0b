"""Acceptance (issue 16): the client snippets run as copied.

Each snippet is taken from the rendered page (the HTML the key-creation page answers with, not
the template source or the service that fills it), written to the file name the page gives, and
run with the command line the page gives, in a fresh directory holding only the CA certificate
the page links to, against the session's real cell:

- Python (confluent-kafka, from this venv);
- Java (kafka-clients from Maven Central, resolved by Maven into a cache, with the page's
  client.properties);
- Go (franz-go from the Go module proxy; module and build caches kept between runs);
- Node (kafkajs from the npm registry; npm's cache kept between runs);
- kcat (Debian's kcat binary, unmodified). Debian 12's kcat links librdkafka 2.0.2, whose SCRAM
  Kafka 4 refuses; the snippet uses SASL/PLAIN over TLS, which Skiff's cells offer for exactly
  these clients (issue 17, docs/clients.md).

Three keys: produce-and-consume (its snippets produce a message and read one back), producer-only
(its snippets never consume: no consumer in the text, none in the output) and consumer-only
(they read a message and never produce). The first key's page is rendered before the cluster has
a topic: it names `orders` and tells the exact step to create it, which the test then takes.

Toolchains missing from the machine are installed by scripts/install-test-deps.sh (`make test`);
this test fails, never skips, when one is missing. Caches: var/cache/snippet-clients/ in the repo.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusters.services.snippets import KAFKA_CLIENTS_VERSION
from tests.clusters.access_helpers import active_cluster, new_member

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "var" / "cache" / "snippet-clients"
RUN_TIMEOUT = 150  # s, one snippet (a cold cache downloads its client first)
LANGUAGES = ("python", "java", "go", "node", "kcat")

JAVA_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.skiff.tests</groupId>
  <artifactId>snippet-clients</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-clients</artifactId>
      <version>{KAFKA_CLIENTS_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
"""


# Where the machine image keeps Go when it is not on PATH (scripts/install-test-deps.sh).
GO_BIN = "/usr/local/go/bin"
TOOL_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", ""), GO_BIN])


def _need(tool: str) -> str:
    found = shutil.which(tool, path=TOOL_PATH)
    if found is None:
        pytest.fail(
            f"`{tool}` is not installed: scripts/install-test-deps.sh (run by `make test`) "
            "installs the snippet toolchains",
            pytrace=False,
        )
    return found


def _run(cmd: list[str], *, cwd: Path, env: dict, what: str) -> None:
    result = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@dataclass(frozen=True)
class Toolchains:
    env: dict[str, str]
    java_lib: Path


@pytest.fixture(scope="module")
def toolchains() -> Toolchains:
    """Every client's toolchain and a warm cache for it; fails when one cannot be had."""
    for tool in ("java", "mvn", "go", "node", "npm", "kcat"):
        _need(tool)
    CACHE.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        PATH=TOOL_PATH,
        GOMODCACHE=str(CACHE / "go" / "mod"),
        GOCACHE=str(CACHE / "go" / "build"),
        GOFLAGS="-mod=mod",
        GOTOOLCHAIN="local",
        npm_config_cache=str(CACHE / "npm"),
        npm_config_audit="false",
        npm_config_fund="false",
        npm_config_update_notifier="false",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )

    # kafka-clients and its runtime dependencies, resolved once by Maven from Maven Central.
    java_dir = CACHE / "java"
    java_lib = java_dir / f"lib-{KAFKA_CLIENTS_VERSION}"
    if not (java_lib / f"kafka-clients-{KAFKA_CLIENTS_VERSION}.jar").exists():
        java_dir.mkdir(parents=True, exist_ok=True)
        (java_dir / "pom.xml").write_text(JAVA_POM)
        _run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={java_lib}",
            ],
            cwd=java_dir,
            env=env,
            what="resolving kafka-clients with Maven",
        )

    return Toolchains(env=env, java_lib=java_lib)


# --- reading the page -------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSnippet:
    key: str
    text: str
    filename: str
    run: str


def snippets_on(page: str) -> dict[str, PageSnippet]:
    """Every snippet of a rendered page: its code, the file name and the command it gives."""

    def one(pattern: str, key: str) -> str:
        found = re.search(pattern.format(key=re.escape(key)), page, re.S)
        assert found, f"no {pattern!r} for {key} on the page"
        return html.unescape(found.group(1))

    keys = re.findall(r'<pre class="skiff-snippet" id="code-([a-z]+)"', page)
    return {
        key: PageSnippet(
            key=key,
            text=one(r'<pre class="skiff-snippet" id="code-{key}"[^>]*><code>(.*?)</code>', key),
            filename=one(r'<code data-snippet-file="{key}">(.*?)</code>', key),
            run=one(r'<code data-snippet-run="{key}">(.*?)</code>', key),
        )
        for key in keys
    }


def visible_text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


# --- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    language: str
    key: str
    seconds: float
    stdout: str


def run_snippet(
    language: str, label: str, snippets: dict[str, PageSnippet], ca: bytes, tc: Toolchains, tmp
) -> Outcome:
    work = tmp / f"{label}-{language}"
    work.mkdir()
    (work / "skiff-ca.pem").write_bytes(ca)
    snippet = snippets[language]
    (work / snippet.filename).write_text(snippet.text)
    env = dict(tc.env)
    if language == "java":
        properties = snippets["properties"]
        (work / properties.filename).write_text(properties.text)
        (work / "lib").symlink_to(tc.java_lib, target_is_directory=True)
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", snippet.run],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, (
        f"{language} snippet of the {label} key failed ({result.returncode}) after "
        f"{seconds:.1f} s:\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return Outcome(language, label, seconds, result.stdout)


CONSUMER_WORDS = {
    "python": "Consumer(",
    "java": "KafkaConsumer",
    "go": "kgo.ConsumerGroup",
    "node": "kafka.consumer(",
    "kcat": " -C ",
}
PRODUCER_WORDS = {
    "python": "Producer(",
    "java": "KafkaProducer",
    "go": "ProduceSync",
    "node": "kafka.producer(",
    "kcat": " -P ",
}


def test_every_snippet_runs_as_copied_from_the_page(
    cell, client, django_capture_on_commit_callbacks, toolchains, tmp_path
):
    member = new_member("snip")
    cluster, _initial, _secret = active_cluster(member, django_capture_on_commit_callbacks)
    client.force_login(member.user)
    base = f"/clusters/{cluster.pk}"

    def new_key(name: str, template: str) -> str:
        made = client.post(f"{base}/access/keys/new/", {"name": name, "policy_template": template})
        assert made.status_code == 201, made.content.decode()[-2000:]
        return made.content.decode()

    # Before any topic exists: the page names `orders` and says how to create it.
    both_page = new_key("both", "produce_consume")
    step = re.search(r'<div[^>]*id="snippet-topic-step"[^>]*>(.*?)</div>', both_page, re.S)
    assert step, "a cluster without topics must tell the user to create the snippets' topic"
    assert "Topics → Create topic, name orders" in visible_text(step.group(1))
    create_href = re.search(r'href="([^"]+)">Topics → Create topic', step.group(1)).group(1)
    created = client.post(create_href, {"name": "orders", "partitions": "3"})
    assert created.status_code == 302, created.content.decode()[-2000:]

    # With the topic there, the pages name it and no longer carry the step.
    producer_page, consumer_page = new_key("writer", "producer"), new_key("reader", "consumer")
    assert 'id="snippet-topic-step"' not in producer_page
    ca = b"".join(client.get(f"{base}/ca.pem").streaming_content)

    pages = {"both": both_page, "producer": producer_page, "consumer": consumer_page}
    snippets = {label: snippets_on(page) for label, page in pages.items()}
    for label, found in snippets.items():
        assert set(found) == {*LANGUAGES, "properties"}, label
        for language in LANGUAGES:
            assert f"{cluster.wire_prefix}orders" in found[language].text, (label, language)
    for language in LANGUAGES:
        assert CONSUMER_WORDS[language] not in snippets["producer"][language].text, language
        assert PRODUCER_WORDS[language] not in snippets["consumer"][language].text, language
        assert CONSUMER_WORDS[language] in snippets["both"][language].text, language
        assert PRODUCER_WORDS[language] in snippets["both"][language].text, language

    def language_sequence(language: str) -> list[Outcome]:
        # Produce and consume, then produce only, then consume only (there is a message then).
        return [
            run_snippet(language, label, snippets[label], ca, toolchains, tmp_path)
            for label in ("both", "producer", "consumer")
        ]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = [o for runs in pool.map(language_sequence, LANGUAGES) for o in runs]
    elapsed = time.monotonic() - started

    for outcome in outcomes:
        where = f"{outcome.language} snippet of the {outcome.key} key:\n{outcome.stdout}"
        delivered = re.search(r"^delivered to \S+", outcome.stdout, re.M)
        consumed = re.search(r"^consumed .*hello from Skiff", outcome.stdout, re.M)
        if outcome.key in ("both", "producer"):
            assert delivered, where
        else:
            assert not delivered, where
        if outcome.key in ("both", "consumer"):
            assert consumed, where
        else:
            assert not consumed, where
        # Delivered values and offsets are printed, not a client's Message object.
        assert "object at 0x" not in outcome.stdout and "<cimpl" not in outcome.stdout, where
    timings = ", ".join(f"{o.language}/{o.key} {o.seconds:.1f}s" for o in outcomes)
    print(f"snippets ran in {elapsed:.1f} s: {timings}")
