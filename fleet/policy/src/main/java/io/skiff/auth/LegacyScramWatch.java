package io.skiff.auth;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.security.Provider;
import java.security.Security;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.security.auth.callback.CallbackHandler;
import javax.security.sasl.SaslException;
import javax.security.sasl.SaslServer;
import javax.security.sasl.SaslServerFactory;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.common.security.scram.internals.ScramSaslServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notes which key a librdkafka older than 2.6.1 failed SCRAM with (issue 17), so the console can
 * tell that key's owner why "invalid credentials" and what to change.
 *
 * <p>librdkafka before 2.6.1 builds the SCRAM client-final message with the nonce twice: its
 * {@code r=} is the client nonce followed by the whole server nonce (which already starts with
 * the client nonce). Kafka 4 checks the nonce (RFC 5802, CVE-2024-56128) and fails the login as
 * "invalid credentials", logging only the address. Nothing the broker exposes joins the key
 * username, the outcome and the client's KIP-511 name and version: the SCRAM callback handler is
 * asked for the credential and never told the outcome, and the client information lives on the
 * connection's channel, which no plug-in reaches. So this class:
 *
 * <ul>
 *   <li>puts a SCRAM SaslServer factory first among the JCA providers; it wraps Kafka's own
 *       {@link ScramSaslServer} (which still does all the checking) and, when a login fails and
 *       the final message has exactly that doubled nonce, records the username and the time;
 *   <li>is a {@link MetricsReporter} (broker property {@code metric.reporters}, beside the
 *       JmxReporter), which installs the provider at start-up and reads the version: when the
 *       login fails, the failing connection is still open, and Kafka's socket-server metric
 *       {@code connections} with tags {@code clientSoftwareName}/{@code clientSoftwareVersion}
 *       counts it. The librdkafka versions below 2.6.1 connected at that moment are recorded
 *       (usually one; more only when several old clients log in at the same instant).
 * </ul>
 *
 * <p>Each record is an MBean
 * {@code io.skiff:type=LegacyScramFailures,user=<username>,versions=<v1+v2…|unknown>} with
 * {@code Count} and {@code LastFailureSeconds}; the JMX exporter publishes them as
 * {@code skiff_legacy_scram_failures_total} and {@code skiff_legacy_scram_last_failure_seconds}
 * (labels {@code user}, {@code versions}; fleet/config/jmx-exporter.yaml).
 * Reset by a broker restart, which is fine for a hint about recent failures.
 */
public final class LegacyScramWatch implements MetricsReporter {
    private static final Logger LOG = LoggerFactory.getLogger(LegacyScramWatch.class);
    private static final String MECHANISM = "SCRAM-SHA-512";
    // Key usernames and the platform's own are plain; anything else is not recorded.
    private static final Pattern SAFE_USER = Pattern.compile("[A-Za-z0-9._@+-]{1,200}");
    private static final Map<String, Failures> FAILURES = new ConcurrentHashMap<>();
    private static final Map<String, KafkaMetric> CONNECTION_METRICS = new ConcurrentHashMap<>();
    private static volatile boolean installed;

    @Override
    public void configure(Map<String, ?> configs) {
        install();
    }

    static synchronized void install() {
        if (installed) {
            return;
        }
        Security.insertProviderAt(new WatchProvider(), 1);
        installed = true;
        LOG.info("Watching {} logins for librdkafka's doubled nonce (librdkafka < 2.6.1)", MECHANISM);
    }

    // --- the client versions connected now, from Kafka's KIP-511 connection metrics ----------

    @Override
    public void init(List<KafkaMetric> metrics) {
        metrics.forEach(this::metricChange);
    }

    @Override
    public void metricChange(KafkaMetric metric) {
        Map<String, String> tags = metric.metricName().tags();
        if ("connections".equals(metric.metricName().name())
                && "socket-server-metrics".equals(metric.metricName().group())
                && tags.containsKey("clientSoftwareVersion")) {
            CONNECTION_METRICS.put(key(metric), metric);
        }
    }

    @Override
    public void metricRemoval(KafkaMetric metric) {
        CONNECTION_METRICS.remove(key(metric));
    }

    @Override
    public void close() {}

    private static String key(KafkaMetric metric) {
        return metric.metricName().group() + metric.metricName().name() + metric.metricName().tags();
    }

    /** librdkafka versions below 2.6.1 with an open connection now ("" when none is seen). */
    static String oldLibrdkafkaConnected() {
        Set<String> versions = new TreeSet<>();
        for (KafkaMetric metric : CONNECTION_METRICS.values()) {
            Map<String, String> tags = metric.metricName().tags();
            String name = tags.getOrDefault("clientSoftwareName", "");
            String version = tags.getOrDefault("clientSoftwareVersion", "");
            Object value = metric.metricValue();
            boolean open = value instanceof Number && ((Number) value).doubleValue() > 0;
            if (open && name.contains("librdkafka") && olderThan261(version)) {
                versions.add(version);
            }
        }
        return String.join("+", versions);
    }

    static boolean olderThan261(String version) {
        String[] parts = version.replaceAll("[^0-9.].*$", "").split("\\.");
        int[] v = new int[3];
        for (int i = 0; i < 3 && i < parts.length; i++) {
            try {
                v[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                return false;
            }
        }
        return v[0] < 2 || (v[0] == 2 && (v[1] < 6 || (v[1] == 6 && v[2] < 1)));
    }

    // --- recording ---------------------------------------------------------------------------

    /** JMX view of one key's failures. */
    public interface FailuresMBean {
        long getCount();

        long getLastFailureSeconds();
    }

    public static final class Failures implements FailuresMBean {
        private volatile long count;
        private volatile long lastFailureSeconds;

        @Override
        public long getCount() {
            return count;
        }

        @Override
        public long getLastFailureSeconds() {
            return lastFailureSeconds;
        }
    }

    static void record(String user) {
        if (user == null || !SAFE_USER.matcher(user).matches()) {
            return;
        }
        String found = oldLibrdkafkaConnected();
        String versions = found.isEmpty() ? "unknown" : found;
        Failures failures = FAILURES.computeIfAbsent(user + "\0" + versions,
                k -> register(user, versions, new Failures()));
        synchronized (failures) {
            failures.count++;
            failures.lastFailureSeconds = System.currentTimeMillis() / 1000;
        }
        LOG.info("SCRAM login of {} failed with librdkafka's doubled nonce (librdkafka {})", user,
                found.isEmpty() ? "< 2.6.1" : found);
    }

    private static Failures register(String user, String versions, Failures failures) {
        try {
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            server.registerMBean(failures, new ObjectName(
                    "io.skiff:type=LegacyScramFailures,user=" + user + ",versions=" + versions));
        } catch (Exception e) {
            LOG.warn("Could not publish the legacy SCRAM failures of {}: {}", user, e.toString());
        }
        return failures;
    }

    // --- the SaslServer wrapper ----------------------------------------------------------------

    /** JCA provider offering Skiff's SCRAM-SHA-512 server factory ahead of Kafka's own. */
    static final class WatchProvider extends Provider {
        private static final long serialVersionUID = 1L;

        WatchProvider() {
            super("Skiff SCRAM watch", "1.0", "Notes librdkafka < 2.6.1 SCRAM failures");
            put("SaslServerFactory." + MECHANISM, WatchFactory.class.getName());
        }
    }

    /** Kafka's SCRAM server, wrapped. */
    public static final class WatchFactory implements SaslServerFactory {
        private final ScramSaslServer.ScramSaslServerFactory kafka =
                new ScramSaslServer.ScramSaslServerFactory();

        @Override
        public SaslServer createSaslServer(String mechanism, String protocol, String serverName,
                Map<String, ?> props, CallbackHandler cbh) throws SaslException {
            SaslServer server = kafka.createSaslServer(mechanism, protocol, serverName, props, cbh);
            return server == null ? null : new Watched(server);
        }

        @Override
        public String[] getMechanismNames(Map<String, ?> props) {
            return new String[] {MECHANISM};
        }
    }

    static final class Watched implements SaslServer {
        private final SaslServer delegate;
        private String user;
        private String clientNonce;
        private String serverNonce;

        Watched(SaslServer delegate) {
            this.delegate = delegate;
        }

        @Override
        public byte[] evaluateResponse(byte[] response) throws SaslException {
            String message = new String(response, StandardCharsets.UTF_8);
            if (clientNonce == null) {
                // client-first: gs2 header "n,[a=…]," then "n=<user>,r=<client nonce>[,…]"
                String bare = message.substring(message.indexOf(',', message.indexOf(',') + 1) + 1);
                user = attribute(bare, "n");
                clientNonce = attribute(bare, "r");
                byte[] challenge = delegate.evaluateResponse(response);
                serverNonce = attribute(new String(challenge, StandardCharsets.UTF_8), "r");
                return challenge;
            }
            try {
                return delegate.evaluateResponse(response);
            } catch (SaslException | RuntimeException e) {
                String finalNonce = attribute(message, "r");
                if (user != null && clientNonce != null && serverNonce != null
                        && (clientNonce + serverNonce).equals(finalNonce)) {
                    record(user.replace("=2C", ",").replace("=3D", "="));
                }
                throw e;
            }
        }

        private static String attribute(String message, String name) {
            for (String part : message.split(",")) {
                if (part.startsWith(name + "=")) {
                    return part.substring(name.length() + 1);
                }
            }
            return null;
        }

        @Override
        public String getMechanismName() {
            return delegate.getMechanismName();
        }

        @Override
        public boolean isComplete() {
            return delegate.isComplete();
        }

        @Override
        public String getAuthorizationID() {
            return delegate.getAuthorizationID();
        }

        @Override
        public byte[] unwrap(byte[] incoming, int offset, int len) throws SaslException {
            return delegate.unwrap(incoming, offset, len);
        }

        @Override
        public byte[] wrap(byte[] outgoing, int offset, int len) throws SaslException {
            return delegate.wrap(outgoing, offset, len);
        }

        @Override
        public Object getNegotiatedProperty(String propName) {
            return delegate.getNegotiatedProperty(propName);
        }

        @Override
        public void dispose() throws SaslException {
            delegate.dispose();
        }
    }
}
