package io.skiff.policy;

import java.util.Map;

import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.PolicyViolationException;
import org.apache.kafka.server.policy.AlterConfigPolicy;

/**
 * Tenant topic config changes within the cell's rules (issue 13): only the settable configs,
 * within range; everything else, min.insync.replicas included, is refused. Removing a config (back to the platform default) is always allowed.
 * Only TOPIC resources of tenant topics are checked: broker and other resources are guarded by
 * ACLs (tenants hold no ALTER_CONFIGS on the cluster).
 */
public class SkiffAlterConfigPolicy implements AlterConfigPolicy {
    private volatile TopicRules rules;

    @Override
    public void configure(Map<String, ?> configs) {
        rules = TopicRules.fromBrokerConfigs(configs);
    }

    @Override
    public void validate(RequestMetadata request) throws PolicyViolationException {
        ConfigResource resource = request.resource();
        if (resource.type() != ConfigResource.Type.TOPIC || TopicRules.isPlatformTopic(resource.name())) {
            return;
        }
        // KRaft runs this policy on a new topic's configs too (before CreateTopicPolicy), and
        // the request does not say which it is: create-only configs (cleanup.policy) are
        // therefore held to their choices here, not refused; the console enforces "create only".
        rules.checkConfigs(request.configs(), true);
    }

    @Override
    public void close() {
    }
}
