"""Issue 15: a signed-in user changes their password; anyone resets a forgotten one by email."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import DEFAULT_PASSWORD, MembershipFactory

NEW_PASSWORD = "a-brand-new-pass-phrase-42"


@pytest.mark.django_db
def test_change_password_keeps_the_session_and_the_new_one_signs_in(client):
    member = MembershipFactory()
    client.force_login(member.user)
    page = client.get("/account/password/")
    assert page.status_code == 200
    for label in ("Old password", "New password", "New password confirmation"):
        assert f">{label}</label>" in page.content.decode()
    wrong = client.post(
        "/account/password/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200 and b"is-invalid" in wrong.content
    changed = client.post(
        "/account/password/",
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        follow=True,
    )
    assert b"Your password was changed." in changed.content
    assert client.get("/team/").status_code == 200  # still signed in
    fresh = Client()
    assert fresh.post("/login/", {"username": member.user.email, "password": NEW_PASSWORD})[
        "Location"
    ] in ("/", "/team/none/")


@pytest.mark.django_db
def test_reset_by_email_sets_a_new_password_once(client):
    member = MembershipFactory()
    login = client.get("/login/").content.decode()
    assert 'href="/password-reset/"' in login  # the way there from the sign-in page
    sent = client.post("/password-reset/", {"email": member.user.email})
    assert sent.status_code == 302 and sent["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [member.user.email]
    link = re.search(r"https?://[^/\s]+(/reset/[^\s]+/)", mail.outbox[0].body).group(1)

    opened = client.get(link)  # Django moves the token into the session and off the URL
    assert opened.status_code == 302 and opened["Location"].endswith("/set-password/")
    form = client.get(opened["Location"])
    assert b"Set a new password" in form.content
    done = client.post(
        opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done["Location"] == "/reset/done/"
    assert client.post("/login/", {"username": member.user.email, "password": NEW_PASSWORD})[
        "Location"
    ] in ("/", "/team/none/")

    again = Client().get(link)
    assert again.status_code == 200 and b"This link does not work" in again.content


@pytest.mark.django_db
def test_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client):
    sent = client.post("/password-reset/", {"email": "nobody-here@example.com"})
    assert sent.status_code == 302 and sent["Location"] == "/password-reset/sent/"
    assert mail.outbox == []
