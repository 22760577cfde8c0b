"""Access control: keys (SCRAM users), IAM-style policies compiled to Kafka ACLs, quotas.

- `policy`: the pure compiler (`compile_policy_to_acls`, `analyze_policy`) and the templates.
- `reconcile`: makes the cell's ACLs and quotas for each key equal what the database says.
- `keys`: create / rotate / revoke keys, attach policies, edit the network allow-list.
- `acls`: the ACL page (bindings read from the cell) and manual bindings.
"""

from clusters.services.access.policy import (
    PolicyInvalid,
    analyze_policy,
    compile_policy_to_acls,
    template_policy,
)

__all__ = ["PolicyInvalid", "analyze_policy", "compile_policy_to_acls", "template_policy"]
