import pytest

from console.models import Role
from tests.factories import DEFAULT_PASSWORD, ClusterFactory, MembershipFactory


@pytest.mark.django_db
def test_login_with_email_and_password(client):
    membership = MembershipFactory()
    response = client.post(
        "/login/", {"username": membership.user.email.upper(), "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert b"No clusters yet" in home.content


@pytest.mark.django_db
def test_wrong_password_shows_a_clear_error(client):
    membership = MembershipFactory()
    response = client.post("/login/", {"username": membership.user.email, "password": "nope"})
    assert response.status_code == 200
    assert b"Wrong email or password." in response.content


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_home_lists_only_the_current_team_clusters_and_team_switch_works(client):
    membership = MembershipFactory(team__slug="alpha", team__name="Alpha")
    beta = MembershipFactory(user=membership.user, team__slug="beta", team__name="Beta")
    ClusterFactory(team=membership.team, name="alpha-orders")
    ClusterFactory(team=beta.team, name="beta-payments")
    client.force_login(membership.user)
    page = client.get("/").content.decode()
    assert "alpha-orders" in page and "beta-payments" not in page
    client.post("/team/switch/", {"team": beta.team_id, "next": "/"})
    page = client.get("/").content.decode()
    assert "beta-payments" in page and "alpha-orders" not in page


@pytest.mark.django_db
def test_switching_to_a_team_you_are_not_in_is_refused(client):
    membership = MembershipFactory()
    stranger_team = MembershipFactory().team
    client.force_login(membership.user)
    response = client.post("/team/switch/", {"team": stranger_team.id}, follow=True)
    assert b"You are not a member of that team." in response.content


@pytest.mark.django_db
def test_user_without_a_team_gets_a_clear_page(client, django_user_model):
    user = django_user_model.objects.create_user("lonely@example.com", DEFAULT_PASSWORD)
    client.force_login(user)
    response = client.get("/", follow=True)
    assert b"not a member of any team" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.OWNER, 200), (Role.BILLING, 200), (Role.DEVELOPER, 403), (Role.VIEWER, 403)],
)
def test_billing_page_follows_the_role_table(client, role, status):
    membership = MembershipFactory(role=role)
    client.force_login(membership.user)
    assert client.get("/billing/").status_code == status


@pytest.mark.django_db
def test_team_page_lists_members_and_role_table(client):
    membership = MembershipFactory(role=Role.VIEWER)
    client.force_login(membership.user)
    page = client.get("/team/").content.decode()
    assert membership.user.email in page and "cluster.manage" in page
