from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from console.models import ApiToken, Membership, Role, Team, User, hash_token


def run(*args) -> str:
    out = StringIO()
    call_command("create_team_admin", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_creates_user_team_and_owner_membership():
    output = run("--email", "Ada@Example.com", "--password", "s3cure-Passw0rd!", "--team", "acme")
    user = User.objects.get(email="ada@example.com")
    assert user.check_password("s3cure-Passw0rd!")
    membership = Membership.objects.get(user=user)
    assert membership.team.slug == "acme"
    assert membership.role == Role.OWNER
    assert "ada@example.com" in output


@pytest.mark.django_db
def test_print_token_prints_a_working_token_alone_on_the_last_line():
    output = run(
        "--email",
        "ops@example.com",
        "--password",
        "s3cure-Passw0rd!",
        "--team",
        "ops",
        "--print-token",
    )
    last_line = output.rstrip("\n").splitlines()[-1]
    assert last_line.startswith("skf_") and " " not in last_line
    token = ApiToken.objects.get(key_hash=hash_token(last_line))
    assert token.team.slug == "ops"
    assert last_line not in {t.key_hash for t in ApiToken.objects.all()}  # stored hashed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("team", "message"),
    [("has.dot", "Team slug"), ("x" * 33, "Team slug"), ("UPPER", None)],
)
def test_bad_team_slug_is_refused_and_changes_nothing(team, message):
    if message is None:  # slugs are lower-cased, not refused
        run("--email", "a@example.com", "--password", "s3cure-Passw0rd!", "--team", team)
        assert Team.objects.filter(slug=team.lower()).exists()
        return
    with pytest.raises(CommandError, match=message):
        run("--email", "a@example.com", "--password", "s3cure-Passw0rd!", "--team", team)
    assert not User.objects.exists() and not Team.objects.exists()


@pytest.mark.django_db
def test_weak_password_and_duplicates_are_refused():
    with pytest.raises(CommandError, match=r"too common|too short"):
        run("--email", "a@example.com", "--password", "password", "--team", "acme")
    run("--email", "a@example.com", "--password", "s3cure-Passw0rd!", "--team", "acme")
    with pytest.raises(CommandError, match="already exists"):
        run("--email", "a@example.com", "--password", "s3cure-Passw0rd!", "--team", "other")
    with pytest.raises(CommandError, match="taken"):
        run("--email", "b@example.com", "--password", "s3cure-Passw0rd!", "--team", "acme")
    assert User.objects.count() == 1 and Team.objects.count() == 1
