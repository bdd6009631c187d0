"""Browser UI: company list, detail with its contacts, create / edit / delete, the suggestion endpoint."""

import pytest
from django.test import Client
from django.urls import reverse

from funnel.models import Company, Contact
from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("funnel:company-list")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def client(client, sales_user):
    client.force_login(sales_user)
    return client


def names(response) -> list[str]:
    return [c.name for c in response.context["page"].items]


# --- List ---------------------------------------------------------------------------------------------


def test_list_shows_companies_with_their_contact_counts(client):
    busy = CompanyFactory(name="Alpha Elektronik", domain="alpha.de", industry="EMS", employees=1200)
    CompanyFactory(name="Beta Bau")
    ContactFactory.create_batch(3, company=busy)
    response = client.get(LIST_URL)
    assert names(response) == ["Alpha Elektronik", "Beta Bau"]
    assert [c.contact_count for c in response.context["page"].items] == [3, 0]
    html = response.content.decode()
    for text in (
        "Alpha Elektronik",
        "alpha.de",
        "EMS",
        "1,200",
        reverse("funnel:company-detail", args=[busy.pk]),
    ):
        assert text in html


@pytest.mark.parametrize(
    ("search", "expected"), [("alpha", ["Alpha Elektronik"]), ("beta.com", ["Beta Bau"])]
)
def test_list_search_by_name_and_domain(client, search, expected):
    CompanyFactory(name="Alpha Elektronik", domain="alpha.de")
    CompanyFactory(name="Beta Bau", domain="beta.com")
    assert names(client.get(LIST_URL, {"search": search})) == expected


def test_list_search_without_match_shows_a_clear_link(client):
    CompanyFactory()
    html = client.get(LIST_URL, {"search": "zzz"}).content.decode()
    assert "No companies match" in html
    assert "Clear search" in html


def test_first_run_empty_state(client):
    html = client.get(LIST_URL).content.decode()
    assert "No companies yet" in html
    assert reverse("funnel:company-create") in html


def test_htmx_request_gets_only_the_results(client):
    CompanyFactory(name="Gamma Guss")
    response = client.get(LIST_URL, {"search": "gamma"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="company-results"' in html
    assert "Gamma Guss" in html


def test_pagination_keeps_the_search(client):
    for i in range(53):
        CompanyFactory(name=f"Omega {i:02d}")
    CompanyFactory(name="Other")
    first = client.get(LIST_URL, {"search": "omega"})
    assert len(first.context["page"].items) == 50
    assert first.context["page"].total == 53
    assert "?search=omega&amp;page=2" in first.content.decode()
    second = client.get(LIST_URL, {"search": "omega", "page": 2})
    assert names(second) == ["Omega 50", "Omega 51", "Omega 52"]


@pytest.mark.parametrize("page", ["x", "-1", "0", "999999999999999999999"])
def test_invalid_page_is_not_an_error(client, page):
    CompanyFactory()
    assert client.get(LIST_URL, {"page": page}).status_code == 200


# Pinned: session, user, roles, the companies page, and one grouped count of contacts for its companies.
LIST_QUERIES = 5


@pytest.mark.parametrize("n", [3, 30])
def test_list_query_count_is_constant(client, django_assert_num_queries, n):
    for _ in range(n):
        ContactFactory(company=CompanyFactory())
    with django_assert_num_queries(LIST_QUERIES) as captured:
        response = client.get(LIST_URL)
    assert len(response.context["page"].items) == n
    # Counts come from the page's companies only, not from grouping every contact.
    count_sql = captured.captured_queries[-1]["sql"]
    assert "IN (" in count_sql and "funnel_contact" in count_sql


# --- Detail -------------------------------------------------------------------------------------------


def test_detail_shows_the_company_and_its_contacts(client):
    company = CompanyFactory(name="Delta Design", domain="delta.io")
    ContactFactory(first_name="Dora", last_name="Dietz", company=company)
    ContactFactory(first_name="Elsewhere", company=CompanyFactory())
    response = client.get(reverse("funnel:company-detail", args=[company.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Delta Design" in html and "delta.io" in html
    assert "Dora Dietz" in html
    assert "Elsewhere" not in html


def test_detail_contacts_are_paginated(client):
    company = CompanyFactory()
    for i in range(52):
        ContactFactory(company=company, last_name=f"N{i:02d}")
    url = reverse("funnel:company-detail", args=[company.pk])
    first = client.get(url)
    assert len(first.context["page"].items) == 50
    assert "?page=2" in first.content.decode()
    second = client.get(url, {"page": 2}, **HTMX)
    html = second.content.decode()
    assert "<html" not in html
    assert 'id="company-contacts"' in html
    assert [c.last_name for c in second.context["page"].items] == ["N50", "N51"]


def test_detail_query_count_does_not_grow_with_contacts(client, django_assert_num_queries, sales_user):
    small, big = CompanyFactory(), CompanyFactory()
    ContactFactory.create_batch(2, company=small, owner=sales_user)
    ContactFactory.create_batch(20, company=big, owner=sales_user)
    with django_assert_num_queries(6):  # session, user, roles, company, contacts, their tags
        client.get(reverse("funnel:company-detail", args=[small.pk]))
    with django_assert_num_queries(6):
        client.get(reverse("funnel:company-detail", args=[big.pk]))


def test_detail_404(client):
    assert client.get(reverse("funnel:company-detail", args=[999999])).status_code == 404


# --- Create, edit, delete -----------------------------------------------------------------------------


def test_create_company(client):
    data = {"name": "Neu GmbH", "domain": "https://neu.de/", "industry": "PCB", "employees": "12"}
    response = client.post(reverse("funnel:company-create"), data)
    company = Company.objects.get(name="Neu GmbH")
    assert response.status_code == 302
    assert response["Location"] == reverse("funnel:company-detail", args=[company.pk])
    assert (company.domain, company.industry, company.employees) == ("neu.de", "PCB", 12)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "employees": "3"}, "name"),
        ({"name": "X", "employees": "-1"}, "employees"),
        ({"name": "X", "employees": "many"}, "employees"),
    ],
)
def test_create_invalid_company_shows_errors_and_stores_nothing(client, data, field):
    response = client.post(reverse("funnel:company-create"), data)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert 'class="errorlist' in response.content.decode()
    assert not Company.objects.exists()


def test_edit_company(client):
    company = CompanyFactory(name="Alt AG", employees=5)
    url = reverse("funnel:company-edit", args=[company.pk])
    assert 'value="Alt AG"' in client.get(url).content.decode()
    response = client.post(url, {"name": "Neu AG", "domain": "", "industry": "", "employees": ""})
    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.name, company.employees) == ("Neu AG", None)


def test_edit_invalid_company_changes_nothing(client):
    company = CompanyFactory(name="Bleibt AG", employees=5)
    response = client.post(reverse("funnel:company-edit", args=[company.pk]), {"name": "", "employees": "-4"})
    assert response.status_code == 400
    assert "Bleibt AG" in response.content.decode()
    company.refresh_from_db()
    assert (company.name, company.employees) == ("Bleibt AG", 5)


def test_delete_asks_first_and_keeps_the_contacts(client):
    company = CompanyFactory(name="Weg GmbH")
    contact = ContactFactory(company=company)
    url = reverse("funnel:company-delete", args=[company.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "1 contact stays" in confirm.content.decode()
    assert Company.objects.filter(pk=company.pk).exists()
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert not Company.objects.filter(pk=company.pk).exists()
    contact.refresh_from_db()
    assert contact.company is None


# --- Company suggestions for the contact form ------------------------------------------------------------


def test_options_suggest_matching_companies(client):
    company = CompanyFactory(name="Platinen Profi", domain="pp.de")
    CompanyFactory(name="Andere")
    response = client.get(reverse("funnel:company-options"), {"company": "platinen"}, **HTMX)
    html = response.content.decode()
    assert f'value="Platinen Profi (#{company.pk})"' in html
    assert "Andere" not in html
    assert client.get(reverse("funnel:company-options")).content.decode().strip() == ""


def test_options_are_limited(client):
    for i in range(30):
        CompanyFactory(name=f"Viele {i}")
    html = client.get(reverse("funnel:company-options"), {"q": "viele"}).content.decode()
    assert html.count("<option") == 20


# --- Roles --------------------------------------------------------------------------------------------


VIEWS = [
    ("company-list", False, "get"),
    ("company-options", False, "get"),
    ("company-create", False, "get"),
    ("company-create", False, "post"),
    ("company-detail", True, "get"),
    ("company-edit", True, "get"),
    ("company-edit", True, "post"),
    ("company-delete", True, "get"),
    ("company-delete", True, "post"),
]
FORM = {"name": "Changed", "employees": "1"}


def _url(name, with_pk):
    if not with_pk:
        return reverse(f"funnel:{name}")
    return reverse(f"funnel:{name}", args=[CompanyFactory(name="Guarded").pk])


@pytest.mark.parametrize(("name", "with_pk", "method"), VIEWS)
def test_anonymous_is_sent_to_login(name, with_pk, method):
    response = getattr(Client(), method)(_url(name, with_pk), FORM)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "with_pk", "method"), VIEWS)
def test_outsider_gets_403_and_changes_nothing(outsider, name, with_pk, method):
    url = _url(name, with_pk)
    before = list(Company.objects.values_list("pk", "name"))
    outsider_client = Client()
    outsider_client.force_login(outsider)
    assert getattr(outsider_client, method)(url, FORM).status_code == 403
    assert list(Company.objects.values_list("pk", "name")) == before


def test_mutations_require_csrf(sales_user):
    company = CompanyFactory(name="Safe")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(sales_user)
    assert csrf_client.post(reverse("funnel:company-delete", args=[company.pk])).status_code == 403
    assert csrf_client.post(reverse("funnel:company-create"), FORM).status_code == 403
    assert Company.objects.filter(pk=company.pk).exists()
    assert not Company.objects.filter(name="Changed").exists()


# --- Escaping -----------------------------------------------------------------------------------------


XSS = "<script>alert(1)</script>"


def test_company_text_is_escaped(client):
    company = CompanyFactory(name=XSS, domain=XSS, industry=XSS)
    ContactFactory(company=company, first_name=XSS)
    for response in (
        client.get(LIST_URL),
        client.get(LIST_URL, {"search": XSS}),
        client.get(reverse("funnel:company-detail", args=[company.pk])),
        client.get(reverse("funnel:company-edit", args=[company.pk])),
        client.get(reverse("funnel:company-delete", args=[company.pk])),
        client.get(reverse("funnel:company-options"), {"q": "script"}),
    ):
        html = response.content.decode()
        assert XSS not in html
        assert "&lt;script&gt;" in html
    assert Contact.objects.count() == 1
