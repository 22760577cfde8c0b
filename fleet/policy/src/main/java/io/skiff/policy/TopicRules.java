package io.skiff.policy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.apache.kafka.common.errors.PolicyViolationException;

/**
 * The topic rules of a Skiff cell, loaded from the properties file the launcher renders from
 * fleet/topic_rules.py and fleet/limits.py (fleet/runtime/topic_policy.py writes it):
 *
 * <pre>
 * replication.factor=3
 * max.partitions.per.request=2400
 * config.retention.ms.min=60000
 * config.retention.ms.max=9223372036854775807
 * config.retention.ms.unlimited=true
 * config.cleanup.policy.choices=delete|compact|compact,delete
 * config.cleanup.policy.create.only=true
 * </pre>
 *
 * Kafka 4.3 gives neither policy the request's principal, so tenancy is decided by topic name:
 * platform-internal topics start with '_' and are exempt; every other topic is a tenant's.
 */
final class TopicRules {
    static final String RULES_FILE = "skiff.policy.rules.file";
    static final String MAX_PARTITIONS_OVERRIDE = "skiff.policy.max.partitions.per.request";
    /**
     * Operational configs the platform sets on any topic while it moves partitions (issue 14's
     * rebalances: fleet/kafka/reassignments.py) and clears afterwards. They are not tenant
     * settings (fleet/topic_rules.py does not list them and the console never offers them), but
     * the policy cannot tell the platform's request from a tenant's (Kafka gives it no
     * principal), so it admits them in the one form the platform uses: explicit
     * partition:broker lists. The wildcard "*" (throttle every replica) stays refused.
     */
    static final Set<String> OPERATIONAL = Set.of(
        "leader.replication.throttled.replicas", "follower.replication.throttled.replicas");
    private static final Pattern REPLICA_LIST = Pattern.compile("\\d+:\\d+(,\\d+:\\d+)*");

    static final class Spec {
        final String name;
        final List<String> choices;
        final Long min;
        final Long max;
        final boolean unlimited;
        final boolean createOnly;

        Spec(String name, List<String> choices, Long min, Long max, boolean unlimited, boolean createOnly) {
            this.name = name;
            this.choices = choices;
            this.min = min;
            this.max = max;
            this.unlimited = unlimited;
            this.createOnly = createOnly;
        }

        String rangeText() {
            if (!choices.isEmpty()) {
                return "one of " + String.join(", ", choices);
            }
            String text = (min == null ? "0" : min.toString()) + " to "
                + (max == null || max == Long.MAX_VALUE ? "no maximum" : max.toString());
            return unlimited ? text + ", or -1 for unlimited" : text;
        }

        void check(String value) {
            if (value == null) {
                return; // removing a dynamic config restores the platform default
            }
            String text = value.trim();
            if (!choices.isEmpty()) {
                String normalized = Arrays.stream(text.split(",")).map(String::trim)
                    .collect(Collectors.joining(","));
                if (!choices.contains(normalized)) {
                    throw violation(name + " must be " + rangeText() + " (got '" + text + "')");
                }
                return;
            }
            long number;
            try {
                number = Long.parseLong(text);
            } catch (NumberFormatException e) {
                throw violation(name + " must be a whole number, " + rangeText() + " (got '" + text + "')");
            }
            if (unlimited && number == -1) {
                return;
            }
            long low = min == null ? 0 : min;
            long high = max == null ? Long.MAX_VALUE : max;
            if (number < low || number > high) {
                throw violation(name + " must be " + rangeText() + " (got " + number + ")");
            }
        }
    }

    final int replicationFactor;
    final int maxPartitionsPerRequest;
    final Map<String, Spec> configs;

    private TopicRules(int replicationFactor, int maxPartitionsPerRequest, Map<String, Spec> configs) {
        this.replicationFactor = replicationFactor;
        this.maxPartitionsPerRequest = maxPartitionsPerRequest;
        this.configs = configs;
    }

    /** The rules named by the broker configs Kafka passes to configure(). */
    static TopicRules fromBrokerConfigs(Map<String, ?> brokerConfigs) {
        Object file = brokerConfigs.get(RULES_FILE);
        if (file == null || file.toString().isBlank()) {
            throw new IllegalStateException(RULES_FILE + " is not set: the Skiff topic policies need their rules file");
        }
        Properties rules = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(file.toString().trim()))) {
            rules.load(in);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the Skiff policy rules " + file + ": " + e, e);
        }
        int maxPartitions = Integer.parseInt(rules.getProperty("max.partitions.per.request").trim());
        Object override = brokerConfigs.get(MAX_PARTITIONS_OVERRIDE);
        if (override != null && !override.toString().isBlank()) {
            maxPartitions = Math.min(maxPartitions, Integer.parseInt(override.toString().trim()));
        }
        return new TopicRules(
            Integer.parseInt(rules.getProperty("replication.factor").trim()),
            maxPartitions,
            parseConfigs(rules));
    }

    private static Map<String, Spec> parseConfigs(Properties rules) {
        Map<String, Spec> specs = new HashMap<>();
        for (String key : rules.stringPropertyNames()) {
            if (!key.startsWith("config.") || !key.endsWith(".kind")) {
                continue;
            }
            String name = key.substring("config.".length(), key.length() - ".kind".length());
            String prefix = "config." + name + ".";
            String choices = rules.getProperty(prefix + "choices", "");
            specs.put(name, new Spec(
                name,
                choices.isEmpty() ? List.of() : List.of(choices.split("\\|")),
                optionalLong(rules.getProperty(prefix + "min")),
                optionalLong(rules.getProperty(prefix + "max")),
                Boolean.parseBoolean(rules.getProperty(prefix + "unlimited", "false")),
                Boolean.parseBoolean(rules.getProperty(prefix + "create.only", "false"))));
        }
        return Map.copyOf(specs);
    }

    private static Long optionalLong(String value) {
        return value == null || value.isBlank() ? null : Long.valueOf(value.trim());
    }

    static boolean isPlatformTopic(String topic) {
        return topic != null && topic.startsWith("_");
    }

    /** Refuse any config outside the settable set or its range. */
    void checkConfigs(Map<String, String> configs, boolean creating) {
        for (Map.Entry<String, String> entry : configs.entrySet()) {
            if (OPERATIONAL.contains(entry.getKey())) {
                String value = entry.getValue();
                if (value != null && !value.isBlank() && !REPLICA_LIST.matcher(value.replace(" ", "")).matches()) {
                    throw violation(entry.getKey() + " is set by the platform during a rebalance, "
                        + "as a list of partition:broker pairs");
                }
                continue;
            }
            Spec spec = this.configs.get(entry.getKey());
            if (spec == null) {
                if (entry.getValue() == null) {
                    continue; // deleting a config someone set outside the rules is a repair
                }
                throw violation(entry.getKey() + " is managed by the platform and cannot be set; "
                    + "settable topic configs: " + String.join(", ", this.configs.keySet().stream().sorted().toList()));
            }
            if (spec.createOnly && !creating) {
                throw violation(spec.name + " can only be set when the topic is created");
            }
            spec.check(entry.getValue());
        }
    }

    static PolicyViolationException violation(String message) {
        return new PolicyViolationException(message);
    }
}
