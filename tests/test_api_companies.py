"""/api/v1/companies/ (API.md "Companies")."""

import pytest

from funnel.models import Company
from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db

FIELDS = {"id", "name", "domain", "industry", "employees", "properties", "created_at", "updated_at"}


@pytest.fixture
def api(api_client_for, sales_user):
    return api_client_for(sales_user)


def test_create_with_all_fields(api):
    response = api.post(
        "/api/v1/companies/",
        {
            "name": "Acme GmbH",
            "domain": "acme.de",
            "industry": "pcb",
            "employees": 120,
            "properties": {"a": 1},
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FIELDS
    company = Company.objects.get(pk=body["id"])
    assert (company.name, company.domain, company.industry, company.employees) == (
        "Acme GmbH",
        "acme.de",
        "pcb",
        120,
    )
    assert company.properties == {"a": 1}
    assert body["properties"] == {"a": 1}


def test_create_with_name_only_has_defaults(api):
    body = api.post("/api/v1/companies/", {"name": "Solo"}, format="json").json()
    assert body["domain"] == ""
    assert body["employees"] is None
    assert body["properties"] == {}


def test_list_by_name(api):
    CompanyFactory(name="Zeta")
    CompanyFactory(name="Alpha")
    body = api.get("/api/v1/companies/").json()
    assert body["count"] == 2
    assert [c["name"] for c in body["results"]] == ["Alpha", "Zeta"]
    assert all(set(c) == FIELDS for c in body["results"])


def test_list_search_and_industry(api):
    CompanyFactory(name="Leiterplatten AG", industry="pcb")
    CompanyFactory(name="Bäckerei", domain="leiter-brot.de", industry="food")
    CompanyFactory(name="Other", industry="pcb")
    assert {c["name"] for c in api.get("/api/v1/companies/?search=leiter").json()["results"]} == {
        "Leiterplatten AG",
        "Bäckerei",
    }
    assert {c["name"] for c in api.get("/api/v1/companies/?industry=PCB").json()["results"]} == {
        "Leiterplatten AG",
        "Other",
    }


def test_retrieve(api):
    company = CompanyFactory(name="Acme")
    body = api.get(f"/api/v1/companies/{company.pk}/").json()
    assert body["id"] == company.pk
    assert body["name"] == "Acme"


def test_patch_changes_only_given_fields(api):
    company = CompanyFactory(name="Acme", industry="pcb", employees=10)
    response = api.patch(f"/api/v1/companies/{company.pk}/", {"employees": 11}, format="json")
    assert response.status_code == 200
    company.refresh_from_db()
    assert (company.name, company.industry, company.employees) == ("Acme", "pcb", 11)


def test_patch_employees_to_null(api):
    company = CompanyFactory(employees=10)
    assert (
        api.patch(f"/api/v1/companies/{company.pk}/", {"employees": None}, format="json").status_code == 200
    )
    company.refresh_from_db()
    assert company.employees is None


def test_delete_keeps_its_contacts(api):
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    assert api.delete(f"/api/v1/companies/{company.pk}/").status_code == 204
    assert not Company.objects.filter(pk=company.pk).exists()
    contact.refresh_from_db()
    assert contact.company is None
    assert api.get(f"/api/v1/companies/{company.pk}/").status_code == 404


def test_put_is_405(api):
    company = CompanyFactory(name="Acme")
    assert api.put(f"/api/v1/companies/{company.pk}/", {"name": "New"}, format="json").status_code == 405
    company.refresh_from_db()
    assert company.name == "Acme"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "A", "domain": "d" * 254}, "domain"),
        ({"name": "A", "industry": "i" * 101}, "industry"),
        ({"name": "A", "employees": -1}, "employees"),
        ({"name": "A", "employees": 2**31}, "employees"),
        ({"name": "A", "employees": "many"}, "employees"),
        ({"name": "A", "employees": 1.5}, "employees"),
        ({"name": "A", "properties": ["a"]}, "properties"),
        ({"name": "A", "properties": "a"}, "properties"),
        ({"name": "A", "properties": None}, "properties"),
        ({"name": "A", "properties": {"k": "x" * 16 * 1024}}, "properties"),
        ({"name": "A", "properties": {"k": "a\x00b"}}, "properties"),
        ({"name": "A\x00B"}, "name"),
    ],
)
def test_invalid_create_is_400_and_stores_nothing(api, body, field):
    response = api.post("/api/v1/companies/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Company.objects.count() == 0


def test_properties_up_to_16_kib(api):
    # {"k":"…"} is 8 bytes around the value.
    response = api.post(
        "/api/v1/companies/", {"name": "A", "properties": {"k": "x" * (16 * 1024 - 8)}}, format="json"
    )
    assert response.status_code == 201


def test_invalid_patch_changes_nothing(api):
    company = CompanyFactory(name="Acme", employees=5)
    response = api.patch(f"/api/v1/companies/{company.pk}/", {"name": "New", "employees": -3}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"employees"}
    company.refresh_from_db()
    assert (company.name, company.employees) == ("Acme", 5)


def test_list_runs_constant_queries(api, django_assert_num_queries):
    api.get("/api/v1/companies/")  # the first request records the token's use
    for company in CompanyFactory.create_batch(3):
        ContactFactory(company=company)
    # token + roles + count + page
    with django_assert_num_queries(4):
        assert len(api.get("/api/v1/companies/").json()["results"]) == 3
    for company in CompanyFactory.create_batch(27):
        ContactFactory(company=company)
    with django_assert_num_queries(4):
        assert len(api.get("/api/v1/companies/").json()["results"]) == 30
