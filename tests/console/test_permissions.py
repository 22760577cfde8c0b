import pytest

from console.models import Role
from console.permissions import ROLE_PERMISSIONS, Action, role_allows


def test_every_role_has_an_entry():
    assert set(ROLE_PERMISSIONS) == set(Role.values)


def test_owner_may_do_everything_and_admin_all_but_transfer():
    assert all(role_allows(Role.OWNER, action) for action in Action)
    assert not role_allows(Role.ADMIN, Action.TEAM_TRANSFER)
    assert all(role_allows(Role.ADMIN, a) for a in Action if a is not Action.TEAM_TRANSFER)


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (Role.DEVELOPER, Action.CLUSTER_MANAGE, True),
        (Role.DEVELOPER, Action.ACCESS_MANAGE, True),
        (Role.DEVELOPER, Action.BILLING_VIEW, False),
        (Role.DEVELOPER, Action.MEMBER_MANAGE, False),
        (Role.BILLING, Action.BILLING_VIEW, True),
        (Role.BILLING, Action.CLUSTER_VIEW, True),
        (Role.BILLING, Action.CLUSTER_MANAGE, False),
        (Role.VIEWER, Action.TOPIC_VIEW, True),
        (Role.VIEWER, Action.ACCESS_VIEW, False),
        (Role.VIEWER, Action.BILLING_VIEW, False),
        (None, Action.CLUSTER_VIEW, False),
    ],
)
def test_role_table(role, action, allowed):
    assert role_allows(role, action) is allowed
