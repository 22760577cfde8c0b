"""Access control state beyond the keys themselves: manual ACL bindings of a key."""

from django.db import models

from clusters.models.clusters import AccessKey


class ManualAclBinding(models.Model):
    """A raw ACL binding a user added on the ACL page, inside the cluster's namespace.

    Stored with the short name (the wire prefix is added when compiled), so it can never point
    outside the cluster. The reconciler makes the cell hold a key's policy bindings plus these;
    ALLOW bindings follow the cluster's allow-list for their host, like policy bindings.
    """

    class ResourceType(models.TextChoices):
        TOPIC = "TOPIC", "Topic"
        GROUP = "GROUP", "Consumer group"
        TRANSACTIONAL_ID = "TRANSACTIONAL_ID", "Transactional id"
        CLUSTER = "CLUSTER", "Cluster"

    class PatternType(models.TextChoices):
        LITERAL = "LITERAL", "Literal (exact name)"
        PREFIXED = "PREFIXED", "Prefixed (name starts with)"

    class Permission(models.TextChoices):
        ALLOW = "ALLOW", "Allow"
        DENY = "DENY", "Deny"

    key = models.ForeignKey(AccessKey, on_delete=models.CASCADE, related_name="manual_acls")
    resource_type = models.CharField(max_length=20, choices=ResourceType.choices)
    # Short name, without the cluster's wire prefix ("" with PREFIXED = the whole namespace).
    name = models.CharField(max_length=249, blank=True)
    pattern_type = models.CharField(max_length=10, choices=PatternType.choices)
    operation = models.CharField(max_length=20)
    permission = models.CharField(max_length=5, choices=Permission.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key_id", "resource_type", "name", "operation", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "resource_type", "name", "pattern_type", "operation", "permission"],
                name="manualaclbinding_unique",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.permission} {self.operation} on {self.resource_type} "
            f"{self.name or '*'} ({self.pattern_type}) for {self.key}"
        )
