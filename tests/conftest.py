"""Shared fixtures: a user of each role plus an outsider (logged in but without a role)."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.factories import UserFactory


@pytest.fixture
def sales_user(db):
    return UserFactory(username="sales", roles=["sales"])


@pytest.fixture
def marketing_user(db):
    return UserFactory(username="marketing", roles=["marketing"])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", roles=["admin"])


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def api_client_for():
    """``api_client_for(user)`` → an APIClient that sends that user's token; ``None`` → no token."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            _, key = ApiToken.objects.issue(user=user, name="tests")
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def client_for(client):
    """``client_for(user)`` → the Django test client logged in as that user."""

    def make(user):
        client.force_login(user)
        return client

    return make
