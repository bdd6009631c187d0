"""API.md "Conventions": auth, roles, errors, pagination, throttling, times, the OpenAPI schema."""

import datetime as dt
import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from funnel.models import Company, Contact, StageTransition
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST_ENDPOINTS = ["/api/v1/stages/", "/api/v1/companies/", "/api/v1/contacts/"]


# Authentication and roles -------------------------------------------------------------------------


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_missing_token_is_401(api_client_for, url):
    response = api_client_for(None).get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["Token wrong-key", "Token", "Token a b", "Bearer abc"])
def test_invalid_token_is_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/contacts/").status_code == 401


def test_token_of_inactive_user_is_401(api_client_for, sales_user):
    client = api_client_for(sales_user)
    sales_user.is_active = False
    sales_user.save()
    assert client.get("/api/v1/contacts/").status_code == 401


def test_unauthenticated_write_is_401_and_stores_nothing(api_client_for):
    response = api_client_for(None).post("/api/v1/companies/", {"name": "Acme"}, format="json")
    assert response.status_code == 401
    assert Company.objects.count() == 0


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_user_without_role_is_403(api_client_for, outsider, url):
    assert api_client_for(outsider).get(url).status_code == 403


def test_user_without_role_cannot_write(api_client_for, outsider):
    client = api_client_for(outsider)
    assert client.post("/api/v1/contacts/", {"last_name": "X"}, format="json").status_code == 403
    assert client.post("/api/v1/companies/", {"name": "X"}, format="json").status_code == 403
    assert Contact.objects.count() == 0
    assert Company.objects.count() == 0


@pytest.mark.parametrize("role_user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_may_work_with_contacts(api_client_for, request, role_user):
    client = api_client_for(request.getfixturevalue(role_user))
    assert client.get("/api/v1/contacts/").status_code == 200
    assert client.post("/api/v1/contacts/", {"last_name": "Neu"}, format="json").status_code == 201


def test_superuser_counts_as_admin(api_client_for):
    boss = UserFactory(username="boss", is_superuser=True)
    assert (
        api_client_for(boss).patch("/api/v1/stages/lead/", {"task": "Call"}, format="json").status_code == 200
    )


# Session authentication with CSRF ----------------------------------------------------------------


def test_session_auth_reads_without_csrf(sales_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(sales_user)
    assert client.get("/api/v1/contacts/").status_code == 200


def test_session_write_without_csrf_token_is_403(sales_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(sales_user)
    response = client.post("/api/v1/companies/", {"name": "Acme"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert Company.objects.count() == 0


def test_session_write_with_csrf_token_succeeds(sales_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(sales_user)
    token = "a" * 32  # a CSRF secret; Django accepts it unmasked in the header
    client.cookies["csrftoken"] = token
    response = client.post("/api/v1/companies/", {"name": "Acme"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert Company.objects.get().name == "Acme"


def test_session_of_outsider_is_403(outsider):
    client = APIClient()
    client.force_login(outsider)
    assert client.get("/api/v1/contacts/").status_code == 403


# Errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/contacts/999999/", "/api/v1/companies/999999/", "/api/v1/stages/nope/"]
)
def test_unknown_object_is_404(api_client_for, sales_user, url):
    assert api_client_for(sales_user).get(url).status_code == 404


def test_absurd_id_is_404_not_500(api_client_for, sales_user):
    client = api_client_for(sales_user)
    assert client.get("/api/v1/contacts/99999999999999999999999999/").status_code == 404
    assert client.get("/api/v1/companies/99999999999999999999999999/").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b'{"last_name": "X"',  # truncated
        b"{'last_name': 'X'}",  # not JSON
        b'{"last_name": NaN}',  # not strict JSON
        b"[" * 5000 + b"]" * 5000,  # deeper than Python's recursion limit
        b'{"last_name": "\\ud800"}',  # unpaired surrogate: no UTF-8 column can store it
        b"\xff\xfe",  # not UTF-8
    ],
    ids=["truncated", "not-json", "nan", "deep", "surrogate", "not-utf8"],
)
def test_invalid_json_is_400_and_stores_nothing(api_client_for, sales_user, body):
    response = api_client_for(sales_user).post("/api/v1/contacts/", body, content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert Contact.objects.count() == 0


def test_non_object_body_is_400(api_client_for, sales_user):
    response = api_client_for(sales_user).post("/api/v1/contacts/", [1, 2], format="json")
    assert response.status_code == 400
    assert Contact.objects.count() == 0


def test_form_encoded_body_is_415(api_client_for, sales_user):
    response = api_client_for(sales_user).post("/api/v1/companies/", {"name": "Acme"})  # multipart
    assert response.status_code == 415
    assert Company.objects.count() == 0


def test_wrong_types_name_every_field_and_store_nothing(api_client_for, sales_user):
    response = api_client_for(sales_user).post(
        "/api/v1/contacts/",
        {"consent_email": "maybe", "tags": "vip", "properties": [], "company": "x", "owner": {}},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"consent_email", "tags", "properties", "company", "owner"}
    assert Contact.objects.count() == 0
    assert StageTransition.objects.count() == 0


# Pagination --------------------------------------------------------------------------------------


def test_list_is_paginated(api_client_for, sales_user):
    ContactFactory.create_batch(3)
    client = api_client_for(sales_user)
    body = client.get("/api/v1/contacts/?page_size=2").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert "page=2" in body["next"]
    second = client.get(body["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None
    assert second["previous"] is not None
    seen = {c["id"] for c in body["results"]} | {c["id"] for c in second["results"]}
    assert seen == set(Contact.objects.values_list("id", flat=True))


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_every_list_has_the_envelope(api_client_for, sales_user, url):
    body = api_client_for(sales_user).get(url).json()
    assert set(body) == {"count", "next", "previous", "results"}


def test_page_size_up_to_500(api_client_for, sales_user):
    assert api_client_for(sales_user).get("/api/v1/contacts/?page_size=500").status_code == 200


@pytest.mark.parametrize("size", ["501", "0", "-1", "abc", "1.5"])
def test_bad_page_size_is_400(api_client_for, sales_user, size):
    response = api_client_for(sales_user).get(f"/api/v1/contacts/?page_size={size}")
    assert response.status_code == 400
    assert "page_size" in response.json()


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", ""])
def test_bad_page_number_is_400(api_client_for, sales_user, page):
    response = api_client_for(sales_user).get(f"/api/v1/contacts/?page={page}")
    assert response.status_code == 400
    assert "page" in response.json()


def test_page_past_the_end_is_404_and_last_works(api_client_for, sales_user):
    ContactFactory.create_batch(3)
    client = api_client_for(sales_user)
    assert client.get("/api/v1/contacts/?page=2").status_code == 404
    response = client.get("/api/v1/contacts/?page=last&page_size=2")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


# Throttling --------------------------------------------------------------------------------------


@pytest.fixture
def low_rates(monkeypatch):
    """DRF copies THROTTLE_RATES from the settings when it is imported, so the test settings' high
    rates are in the class; this test swaps in low ones."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})


def test_throttled_request_is_429_with_retry_after(api_client_for, sales_user, low_rates):
    # The cache (Redis in CI) outlives the test database; start this user's history empty.
    cache.delete(UserRateThrottle.cache_format % {"scope": "user", "ident": sales_user.pk})
    client = api_client_for(sales_user)
    for _ in range(3):
        assert client.get("/api/v1/stages/").status_code == 200
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    # A throttled write stores nothing.
    assert client.post("/api/v1/companies/", {"name": "Acme"}, format="json").status_code == 429
    assert Company.objects.count() == 0


def test_throttle_counts_per_user(api_client_for, sales_user, marketing_user, low_rates):
    for user in (sales_user, marketing_user):
        cache.delete(UserRateThrottle.cache_format % {"scope": "user", "ident": user.pk})
    sales = api_client_for(sales_user)
    for _ in range(3):
        sales.get("/api/v1/stages/")
    assert sales.get("/api/v1/stages/").status_code == 429
    assert api_client_for(marketing_user).get("/api/v1/stages/").status_code == 200


# Times -------------------------------------------------------------------------------------------


@override_settings(TIME_ZONE="Europe/Berlin")
def test_times_are_utc_even_with_another_time_zone(api_client_for, sales_user):
    contact = ContactFactory()
    Contact.objects.filter(pk=contact.pk).update(created_at=dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC))
    client = api_client_for(sales_user)
    body = client.get(f"/api/v1/contacts/{contact.pk}/").json()
    assert body["created_at"] == "2026-11-22T10:00:00Z"
    assert body["updated_at"].endswith("Z")
    transition = client.get(f"/api/v1/contacts/{contact.pk}/transitions/").json()["results"][0]
    assert transition["at"].endswith("Z")
    company = client.post("/api/v1/companies/", {"name": "Acme"}, format="json").json()
    assert company["created_at"].endswith("Z")
    parsed = dt.datetime.fromisoformat(company["created_at"])
    assert parsed.utcoffset() == dt.timedelta(0)


# OpenAPI -----------------------------------------------------------------------------------------


def test_schema_validates_without_warnings():
    out = io.StringIO()
    # --fail-on-warn makes any warning or error a SystemExit; --validate checks it against the spec.
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in (
        "/api/v1/stages/{key}/",
        "/api/v1/companies/{id}/",
        "/api/v1/contacts/{id}/move/",
        "/api/v1/contacts/{id}/transitions/",
    ):
        assert f"{path}:" in schema
    assert "ContactMoveRequest" in schema
    assert "name: score_min" in schema


def test_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/contacts/" in paths
    params = {p["name"] for p in paths["/api/v1/contacts/"]["get"]["parameters"]}
    assert {"stage", "owner", "search", "score_min", "tag", "ordering", "page", "page_size"} <= params
    assert "put" not in paths["/api/v1/contacts/{id}/"]


def test_docs_are_served(client):
    assert client.get("/api/docs/").status_code == 200
