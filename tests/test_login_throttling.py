"""Login throttling (django-axes): a username is locked for the address that failed too often."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def attempt(client, username, password, ip="198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def anna():
    user = UserFactory(username="anna", roles=["sales"])
    user.set_password("richtig-und-lang-genug")
    user.save()
    return user


@override_settings(AXES_FAILURE_LIMIT=3)
def test_too_many_failures_lock_that_username_from_that_address(anna):
    client = Client()
    for _ in range(2):
        response = attempt(client, "anna", "falsch")
        assert response.status_code == 200 and "anna" in response.content.decode()  # the form again
    locked = attempt(client, "anna", "falsch")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # Locked even with the right password now …
    assert attempt(client, "anna", "richtig-und-lang-genug").status_code == 429
    # … but not from another address, and not for another username.
    assert attempt(Client(), "anna", "richtig-und-lang-genug", ip="203.0.113.9").status_code == 302
    UserFactory(username="ben").set_password("x")
    assert attempt(Client(), "ben", "falsch").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_successful_login_resets_the_count(anna):
    client = Client()
    attempt(client, "anna", "falsch")
    attempt(client, "anna", "falsch")
    assert attempt(client, "anna", "richtig-und-lang-genug").status_code == 302
    client.post(reverse("logout"))
    attempt(client, "anna", "falsch")
    attempt(client, "anna", "falsch")
    assert attempt(client, "anna", "richtig-und-lang-genug").status_code == 302


def test_the_lockout_page_escapes_nothing_from_the_request(anna, settings):
    settings.AXES_FAILURE_LIMIT = 1
    response = attempt(Client(), "<script>alert(1)</script>", "x")
    assert response.status_code == 429
    assert "<script>alert(1)</script>" not in response.content.decode()
