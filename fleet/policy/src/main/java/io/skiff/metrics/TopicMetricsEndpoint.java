package io.skiff.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.yammer.metrics.core.Gauge;
import com.yammer.metrics.core.Meter;
import com.yammer.metrics.core.Metric;
import com.yammer.metrics.core.MetricName;
import com.yammer.metrics.core.MetricsRegistry;
import com.yammer.metrics.core.MetricsRegistryListener;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.server.metrics.KafkaYammerMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The per-topic numbers the platform's sampler reads every second (issue 20), served by the
 * broker itself over HTTP in the Prometheus text format of the JMX exporter's rules
 * (fleet/config/jmx-exporter.yaml), so the sampler's parser reads either:
 *
 * <pre>
 * kafka_server_brokertopicmetrics_bytesinpersec_total{topic="acme.orders.payments"} 1234
 * kafka_log_size_bytes{partition="0",topic="acme.orders.payments"} 5678
 * </pre>
 *
 * <p>Why not the exporter: at 1,000 topics the JMX exporter (1.0.1) cost about 135 ms of CPU per
 * scrape, since it reads every included MBean through JMX (attribute by attribute, each through
 * its rules) whatever the {@code name[]} filter asks for. This class keeps a map of exactly the
 * meters and gauges it serves, filled by a listener on Kafka's Yammer registry (told of every
 * metric added or removed), and reads their values directly: a scrape walks that map once.
 *
 * <p>A {@link MetricsReporter} (broker property {@code metric.reporters}), configured by:
 *
 * <ul>
 *   <li>{@code skiff.metrics.topics.port}: the port; absent or 0 → no endpoint;
 *   <li>{@code skiff.metrics.topics.host}: the address to bind (default 127.0.0.1);
 *   <li>{@code skiff.metrics.topics.username}, {@code skiff.metrics.topics.salt} and
 *       {@code skiff.metrics.topics.password.sha256}: HTTP basic authentication with the same
 *       credential as the node's exporter: the hex SHA-256 of {@code <salt>:<password>}, compared
 *       in constant time. Without them the endpoint does not start (never unauthenticated).
 * </ul>
 *
 * <p>Every topic but Kafka's internal ones (names starting with {@code __}).
 *
 * <p>{@code GET /metrics} answers the families; anything else 404; a missing or wrong credential
 * 401. Every answer carries a token ({@code X-Skiff-Metrics-Token}). {@code GET /metrics?since=}
 * that token answers only the series whose value changed since that answer, and a line
 * {@code # REMOVED <series> 0} for each series gone since (header {@code X-Skiff-Metrics-Delta:
 * 1}): at 1,000 clusters the full answer is about 314 KB and cost a broker 12-17 ms of CPU, and the
 * sampler asks every second, though on a quiet cell almost nothing changes. A token of another
 * run of the broker, or older than the removals kept ({@link Catalog#REMOVALS_KEPT}), gets the
 * full answer. The HTTP server runs on daemon threads and stops in {@link #close()}. A port that cannot
 * be bound is logged and the broker goes on without the endpoint (the sampler then reads the
 * exporter).
 */
public final class TopicMetricsEndpoint implements MetricsReporter {
    private static final Logger LOG = LoggerFactory.getLogger(TopicMetricsEndpoint.class);

    public static final String PREFIX = "skiff.metrics.topics.";
    public static final String PORT = PREFIX + "port";
    public static final String HOST = PREFIX + "host";
    public static final String USERNAME = PREFIX + "username";
    public static final String SALT = PREFIX + "salt";
    public static final String PASSWORD_SHA256 = PREFIX + "password.sha256";

    static final String BYTES_IN = "kafka_server_brokertopicmetrics_bytesinpersec_total";
    static final String BYTES_OUT = "kafka_server_brokertopicmetrics_bytesoutpersec_total";
    static final String MESSAGES_IN = "kafka_server_brokertopicmetrics_messagesinpersec_total";
    static final String LOG_SIZE = "kafka_log_size_bytes";
    private static final Map<String, String> METERS =
            Map.of(
                    "BytesInPerSec", BYTES_IN,
                    "BytesOutPerSec", BYTES_OUT,
                    "MessagesInPerSec", MESSAGES_IN);

    // Kafka may make more than one instance of a reporter; one endpoint per JVM.
    private static final Object LOCK = new Object();
    private static Endpoint running;

    private Endpoint mine;

    @Override
    public void configure(Map<String, ?> configs) {
        Settings settings = Settings.from(configs);
        if (settings == null) {
            return;
        }
        synchronized (LOCK) {
            if (running != null) {
                return;
            }
            try {
                running = Endpoint.start(settings, KafkaYammerMetrics.defaultRegistry());
                mine = running;
                LOG.info("Serving per-topic metrics on http://{}:{}/metrics", settings.host, settings.port);
            } catch (IOException | RuntimeException e) {
                LOG.error(
                        "Per-topic metrics endpoint could not listen on {}:{}; going on without it",
                        settings.host,
                        settings.port,
                        e);
            }
        }
    }

    @Override
    public void init(List<KafkaMetric> metrics) {}

    @Override
    public void metricChange(KafkaMetric metric) {}

    @Override
    public void metricRemoval(KafkaMetric metric) {}

    @Override
    public void close() {
        synchronized (LOCK) {
            if (mine != null && running == mine) {
                running.stop();
                running = null;
            }
            mine = null;
        }
    }

    // --- settings ----------------------------------------------------------------------------

    static final class Settings {
        final String host;
        final int port;
        final byte[] username;
        final String salt;
        final byte[] passwordHash;

        Settings(String host, int port, String username, String salt, byte[] passwordHash) {
            this.host = host;
            this.port = port;
            this.username = username.getBytes(StandardCharsets.UTF_8);
            this.salt = salt;
            this.passwordHash = passwordHash;
        }

        /** The endpoint's settings, or null when the broker asks for no endpoint. */
        static Settings from(Map<String, ?> configs) {
            String port = text(configs.get(PORT));
            if (port.isEmpty() || "0".equals(port)) {
                return null;
            }
            String username = text(configs.get(USERNAME));
            String salt = text(configs.get(SALT));
            String hash = text(configs.get(PASSWORD_SHA256));
            if (username.isEmpty() || salt.isEmpty() || hash.length() != 64) {
                LOG.error("{} is set without {}, {} and {}: no per-topic metrics endpoint", PORT, USERNAME, SALT, PASSWORD_SHA256);
                return null;
            }
            String host = text(configs.get(HOST));
            return new Settings(
                    host.isEmpty() ? "127.0.0.1" : host,
                    Integer.parseInt(port),
                    username,
                    salt,
                    HexFormat.of().parseHex(hash.toLowerCase(Locale.ROOT)));
        }

        private static String text(Object value) {
            return value == null ? "" : value.toString().trim();
        }

        /** Whether an Authorization header carries this credential (constant time). */
        boolean accepts(String authorization) {
            if (authorization == null || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
                return false;
            }
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(authorization.substring(6).trim()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return false;
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                return false;
            }
            byte[] user = decoded.substring(0, colon).getBytes(StandardCharsets.UTF_8);
            byte[] hash = sha256(salt + ":" + decoded.substring(colon + 1));
            // Both compared whatever the first says: the time does not tell which one failed.
            boolean userOk = MessageDigest.isEqual(user, username);
            boolean passwordOk = MessageDigest.isEqual(hash, passwordHash);
            return userOk & passwordOk;
        }

        static byte[] sha256(String text) {
            try {
                return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    // --- what is served ----------------------------------------------------------------------

    /**
     * One served series: its family, its labels already rendered, where its value is, and (for
     * the answers since a token) its value at the last scrape and that scrape's generation when
     * the value changed. Only the scraping thread reads or writes the last two.
     */
    static final class Series {
        final String family;
        final String labels;
        final Metric metric;
        long last = Long.MIN_VALUE;
        long changedAt = -1;

        Series(String family, String labels, Metric metric) {
            this.family = family;
            this.labels = labels;
            this.metric = metric;
        }
    }

    /** A series gone from the registry, and the first generation that no longer has it. */
    record Removal(String series, long generation) {}

    /** What one scrape answers: the text, its token, and whether it is a delta. */
    record Answer(String text, String token, boolean delta) {}

    /** The served series, kept up to date by the registry's listener. */
    static final class Catalog implements MetricsRegistryListener {
        /** Removals kept for the answers since a token; an older token gets the full answer. */
        static final int REMOVALS_KEPT = 100_000;

        final Map<MetricName, Series> series = new ConcurrentHashMap<>();
        /** This run of the endpoint: a token of another run (a restarted broker) is unknown. */
        final String epoch = Long.toHexString(new SecureRandom().nextLong());
        private final ArrayDeque<Removal> removals = new ArrayDeque<>();
        private long generation;
        /** The oldest token whose removals are all still kept. */
        private long floor;

        @Override
        public void onMetricAdded(MetricName name, Metric metric) {
            Series found = seriesOf(name, metric);
            if (found != null) {
                series.put(name, found);
            }
        }

        @Override
        public void onMetricRemoved(MetricName name) {
            Series gone = series.remove(name);
            if (gone != null) {
                synchronized (this) {
                    removals.addLast(new Removal(gone.family + gone.labels, generation + 1));
                    while (removals.size() > REMOVALS_KEPT) {
                        floor = removals.removeFirst().generation();
                    }
                }
            }
        }

        static Series seriesOf(MetricName name, Metric metric) {
            boolean meter = "kafka.server".equals(name.getGroup())
                    && "BrokerTopicMetrics".equals(name.getType())
                    && METERS.containsKey(name.getName())
                    && metric instanceof Meter;
            boolean size = "kafka.log".equals(name.getGroup())
                    && "Log".equals(name.getType())
                    && "Size".equals(name.getName())
                    && metric instanceof Gauge;
            if (!(meter || size) || !name.hasScope()) {
                return null; // broker-wide totals have no scope (no topic)
            }
            ObjectName object;
            try {
                object = new ObjectName(name.getMBeanName());
            } catch (MalformedObjectNameException e) {
                return null;
            }
            String topic = unquoted(object.getKeyProperty("topic"));
            if (topic == null || topic.isEmpty() || topic.startsWith("__")) {
                // Kafka's internal topics are nobody's usage, and they change all the time (the
                // metadata log grows every half second, consumer offsets with every commit):
                // without them a quiet cell answers the same bytes scrape after scrape.
                return null;
            }
            if (meter) {
                if (object.getKeyPropertyList().size() != 3) {
                    return null; // type, name, topic: nothing else (the exporter's rule is the same)
                }
                return new Series(METERS.get(name.getName()), "{topic=\"" + escape(topic) + "\"}", metric);
            }
            String partition = object.getKeyProperty("partition");
            if (partition == null || !partition.chars().allMatch(Character::isDigit)
                    || partition.isEmpty() || object.getKeyProperty("is-future") != null) {
                return null; // a future replica (a move between log dirs) is not the partition's size
            }
            return new Series(
                    LOG_SIZE, "{partition=\"" + partition + "\",topic=\"" + escape(topic) + "\"}", metric);
        }

        private static String unquoted(String value) {
            return value != null && value.startsWith("\"") ? ObjectName.unquote(value) : value;
        }

        static String escape(String value) {
            if (value.indexOf('\\') < 0 && value.indexOf('"') < 0 && value.indexOf('\n') < 0) {
                return value;
            }
            return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
        }

        /** The full text of one scrape: a TYPE line per family, then its samples. */
        String render() {
            return answer(null).text();
        }

        /**
         * One scrape. With {@code since} (a token this catalog gave), only the series whose
         * value changed after that answer and the series removed since; else, or for a token
         * it cannot answer from, every series.
         */
        synchronized Answer answer(String since) {
            long generation = ++this.generation;
            long from = sinceGeneration(since);
            boolean delta = from >= 0;
            StringBuilder bytesIn = family(BYTES_IN, "counter", delta);
            StringBuilder bytesOut = family(BYTES_OUT, "counter", delta);
            StringBuilder messagesIn = family(MESSAGES_IN, "counter", delta);
            StringBuilder sizes = family(LOG_SIZE, "gauge", delta);
            for (Series s : series.values()) {
                long value;
                try {
                    if (s.metric instanceof Meter meter) {
                        value = meter.count();
                    } else {
                        Object raw = ((Gauge<?>) s.metric).value();
                        if (!(raw instanceof Number number)) {
                            continue;
                        }
                        value = number.longValue();
                    }
                } catch (RuntimeException e) {
                    continue; // a log closed or deleted while we read it: gone next scrape
                }
                if (value != s.last) {
                    s.last = value;
                    s.changedAt = generation;
                }
                if (delta && s.changedAt <= from) {
                    continue;
                }
                StringBuilder out = switch (s.family) {
                    case BYTES_IN -> bytesIn;
                    case BYTES_OUT -> bytesOut;
                    case MESSAGES_IN -> messagesIn;
                    default -> sizes;
                };
                out.append(s.family).append(s.labels).append(' ').append(value).append('\n');
            }
            StringBuilder text = bytesIn.append(bytesOut).append(messagesIn).append(sizes);
            if (delta) {
                for (Iterator<Removal> it = removals.descendingIterator(); it.hasNext(); ) {
                    Removal removal = it.next();
                    if (removal.generation() <= from) {
                        break;
                    }
                    text.append("# REMOVED ").append(removal.series()).append(" 0\n");
                }
            }
            return new Answer(text.toString(), epoch + "." + generation, delta);
        }

        /** The generation of a token this catalog can answer from, else -1. */
        private long sinceGeneration(String since) {
            if (since == null) {
                return -1;
            }
            int dot = since.indexOf('.');
            if (dot < 0 || !since.substring(0, dot).equals(epoch)) {
                return -1;
            }
            long from;
            try {
                from = Long.parseLong(since.substring(dot + 1));
            } catch (NumberFormatException e) {
                return -1;
            }
            // A token from the future is not ours; one older than the kept removals cannot be
            // answered without them.
            return from < floor || from >= generation ? -1 : from;
        }

        private static StringBuilder family(String name, String type, boolean delta) {
            StringBuilder out = new StringBuilder(delta ? 256 : 64 * 1024);
            return out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        }
    }

    // --- the HTTP server ---------------------------------------------------------------------

    static final class Endpoint {
        private final HttpServer server;
        private final ExecutorService executor;
        private final MetricsRegistry registry;
        private final Catalog catalog;

        private Endpoint(HttpServer server, ExecutorService executor, MetricsRegistry registry, Catalog catalog) {
            this.server = server;
            this.executor = executor;
            this.registry = registry;
            this.catalog = catalog;
        }

        static Endpoint start(Settings settings, MetricsRegistry registry) throws IOException {
            Catalog catalog = new Catalog();
            // addListener also tells it of every metric already registered.
            registry.addListener(catalog);
            ExecutorService executor = Executors.newSingleThreadExecutor(runnable -> {
                Thread thread = new Thread(runnable, "skiff-topic-metrics");
                thread.setDaemon(true);
                return thread;
            });
            HttpServer server;
            try {
                server = startOnDaemonThread(
                        new InetSocketAddress(settings.host, settings.port),
                        executor,
                        exchange -> handle(exchange, settings, catalog));
            } catch (IOException | RuntimeException e) {
                registry.removeListener(catalog);
                executor.shutdownNow();
                throw e;
            }
            return new Endpoint(server, executor, registry, catalog);
        }

        /**
         * The JDK's server starts its dispatcher thread from the thread that calls start(), which
         * inherits that thread's daemon flag: created and started here, from a daemon thread, it
         * never keeps a stopping broker's JVM alive.
         */
        private static HttpServer startOnDaemonThread(
                InetSocketAddress address, ExecutorService executor, HttpHandler handler) throws IOException {
            HttpServer[] made = new HttpServer[1];
            IOException[] failed = new IOException[1];
            Thread binder = new Thread(() -> {
                try {
                    HttpServer server = HttpServer.create(address, 16);
                    server.setExecutor(executor);
                    server.createContext("/", handler);
                    server.start();
                    made[0] = server;
                } catch (IOException e) {
                    failed[0] = e;
                }
            }, "skiff-topic-metrics-start");
            binder.setDaemon(true);
            binder.start();
            try {
                binder.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while binding " + address, e);
            }
            if (failed[0] != null) {
                throw failed[0];
            }
            return made[0];
        }

        void stop() {
            registry.removeListener(catalog);
            server.stop(0);
            executor.shutdownNow();
        }

        private static void handle(HttpExchange exchange, Settings settings, Catalog catalog) throws IOException {
            try (exchange) {
                // The request body (a GET has none) is never read: closing the exchange drops it.
                if (!settings.accepts(exchange.getRequestHeaders().getFirst("Authorization"))) {
                    exchange.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"skiff-metrics\"");
                    exchange.sendResponseHeaders(401, -1);
                    return;
                }
                String path = exchange.getRequestURI().getPath();
                if (!"/metrics".equals(path)) {
                    exchange.sendResponseHeaders(404, -1);
                    return;
                }
                String method = exchange.getRequestMethod();
                if (!"GET".equals(method) && !"HEAD".equals(method)) {
                    exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                    exchange.sendResponseHeaders(405, -1);
                    return;
                }
                Answer answer = catalog.answer(sinceParameter(exchange.getRequestURI().getRawQuery()));
                byte[] body = answer.text().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                exchange.getResponseHeaders().set("X-Skiff-Metrics-Token", answer.token());
                if (answer.delta()) {
                    exchange.getResponseHeaders().set("X-Skiff-Metrics-Delta", "1");
                }
                if ("HEAD".equals(method)) {
                    exchange.sendResponseHeaders(200, -1);
                    return;
                }
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        }

        /** The {@code since} query parameter (a token: hex, a dot, digits), or null. */
        static String sinceParameter(String query) {
            if (query == null) {
                return null;
            }
            for (String pair : query.split("&")) {
                if (pair.startsWith("since=")) {
                    String value = pair.substring(6);
                    return value.length() <= 64 && value.matches("[0-9a-f]+\\.[0-9]+") ? value : null;
                }
            }
            return null;
        }
    }
}
