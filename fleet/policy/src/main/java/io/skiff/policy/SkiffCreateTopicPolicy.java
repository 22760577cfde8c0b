package io.skiff.policy;

import java.util.Map;

import org.apache.kafka.common.errors.PolicyViolationException;
import org.apache.kafka.server.policy.CreateTopicPolicy;

/**
 * Tenant topic creation within the cell's rules (issue 13): the cell's replication factor, no
 * explicit replica assignments, at most the per-request partition limit, and only the settable
 * configs within range. Topics whose name starts with '_' are the platform's and exempt.
 */
public class SkiffCreateTopicPolicy implements CreateTopicPolicy {
    private volatile TopicRules rules;

    @Override
    public void configure(Map<String, ?> configs) {
        rules = TopicRules.fromBrokerConfigs(configs);
    }

    @Override
    public void validate(RequestMetadata request) throws PolicyViolationException {
        if (TopicRules.isPlatformTopic(request.topic())) {
            return;
        }
        TopicRules current = rules;
        if (request.replicasAssignments() != null && !request.replicasAssignments().isEmpty()) {
            throw TopicRules.violation("explicit replica assignments are not allowed; "
                + "give a partition count and let the cell place the replicas");
        }
        Short replicationFactor = request.replicationFactor();
        if (replicationFactor != null && replicationFactor != current.replicationFactor) {
            throw TopicRules.violation("replication factor must be " + current.replicationFactor
                + " on this cell (got " + replicationFactor + ")");
        }
        Integer partitions = request.numPartitions();
        if (partitions != null && partitions > current.maxPartitionsPerRequest) {
            throw TopicRules.violation("partitions must be at most " + current.maxPartitionsPerRequest
                + " per request (got " + partitions + ")");
        }
        current.checkConfigs(request.configs(), true);
    }

    @Override
    public void close() {
    }
}
