"""The one permission table: every page, API endpoint and WebSocket subscription asks it.

Roles are per team (`Membership.role`). Platform staff (`User.is_staff`) is a separate axis that
grants the fleet pages and the finance export, not access to any team's objects.
"""

from enum import StrEnum

from console.models import Role


class Action(StrEnum):
    CLUSTER_VIEW = "cluster.view"
    CLUSTER_MANAGE = "cluster.manage"  # create, delete, retry, edit tags
    TOPIC_VIEW = "topic.view"
    TOPIC_MANAGE = "topic.manage"
    MESSAGE_VIEW = "message.view"
    ACCESS_VIEW = "access.view"  # keys (never secrets after creation), policies, ACLs
    ACCESS_MANAGE = "access.manage"
    BILLING_VIEW = "billing.view"  # usage, invoices, exports
    BILLING_MANAGE = "billing.manage"
    MEMBER_VIEW = "member.view"
    MEMBER_MANAGE = "member.manage"  # invite, change roles, remove
    TEAM_TRANSFER = "team.transfer"
    TEAM_DELETE = "team.delete"
    TOKEN_MANAGE = "token.manage"  # noqa: S105  # own API tokens
    AUDIT_VIEW = "audit.view"
    CONNECTOR_VIEW = "connector.view"  # connectors, their state, tasks and config (no secrets)
    CONNECTOR_MANAGE = "connector.manage"  # create, validate, change, pause, resume, delete


_ALL = frozenset(Action)
_CLUSTER_READ = frozenset({Action.CLUSTER_VIEW, Action.TOPIC_VIEW, Action.CONNECTOR_VIEW})

ROLE_PERMISSIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL - {Action.TEAM_TRANSFER},
    Role.DEVELOPER: _CLUSTER_READ
    | {
        Action.CLUSTER_MANAGE,
        Action.TOPIC_MANAGE,
        Action.MESSAGE_VIEW,
        Action.ACCESS_VIEW,
        Action.ACCESS_MANAGE,
        Action.CONNECTOR_MANAGE,
        Action.TOKEN_MANAGE,
    },
    Role.BILLING: _CLUSTER_READ | {Action.BILLING_VIEW, Action.BILLING_MANAGE, Action.TOKEN_MANAGE},
    Role.VIEWER: _CLUSTER_READ,
}


def role_allows(role: str | None, action: Action) -> bool:
    """Whether a team role may perform an action. No role (not a member) allows nothing."""
    if role is None:
        return False
    return action in ROLE_PERMISSIONS.get(role, frozenset())
