"""Recorded metric texts of the brokers' JMX exporter, and a builder in the same format."""

from pathlib import Path

HERE = Path(__file__).resolve().parent

_COUNTER_HELP = (
    "# HELP kafka_server_brokertopicmetrics_{m}_total Attribute exposed for management "
    "kafka.server:name={M},type=BrokerTopicMetrics,attribute=Count\n"
    "# TYPE kafka_server_brokertopicmetrics_{m}_total counter\n"
)
_METERS = {
    "bytes_in": "BytesInPerSec",
    "bytes_out": "BytesOutPerSec",
    "messages_in": "MessagesInPerSec",
}


def recorded(name: str) -> str:
    return (HERE / name).read_text()


def java_double(value: float) -> str:
    """Java's Double.toString, which the exporter uses: 1.2345678E7 from 10 million up."""
    value = float(value)
    if abs(value) < 1e7:
        return repr(value)
    mantissa, exponent = f"{value:.15E}".split("E")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}E{int(exponent)}"


def exporter_text(counters: dict | None = None, sizes: dict | None = None) -> str:
    """Text as jmx_prometheus_javaagent 1.0.1 writes it with fleet/config/jmx-exporter.yaml.

    counters: {(meter, topic): count}, meter in bytes_in/bytes_out/messages_in;
    sizes: {(topic, partition): bytes}.
    """
    counters = counters or {}
    out = [
        "# HELP jmx_scrape_error Non-zero if this scrape failed.\n",
        "# TYPE jmx_scrape_error gauge\n",
        "jmx_scrape_error 0.0\n",
        "# HELP kafka_log_size_bytes Attribute exposed for management "
        "kafka.log:name=Size,type=Log,attribute=Value\n",
        "# TYPE kafka_log_size_bytes gauge\n",
    ]
    for (topic, partition), size in sorted((sizes or {}).items()):
        out.append(
            f'kafka_log_size_bytes{{partition="{partition}",topic="{topic}"}} {java_double(size)}\n'
        )
    for meter, bean in _METERS.items():
        name = bean.lower()
        out.append(_COUNTER_HELP.format(m=name, M=bean))
        total = sum(v for (m, _t), v in counters.items() if m == meter)
        out.append(f"kafka_server_brokertopicmetrics_{name}_total {float(total)!r}\n")
        for (m, topic), value in sorted(counters.items()):
            if m == meter:
                out.append(
                    f'kafka_server_brokertopicmetrics_{name}_total{{topic="{topic}"}} '
                    f"{java_double(value)}\n"
                )
    return "".join(out)
