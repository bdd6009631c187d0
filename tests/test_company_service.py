import pytest

from funnel.services import company_create, company_update

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "entered, stored",
    [("https://Alpha-Board.de/", "alpha-board.de"), ("http://x.example", "x.example"), ("  ", "")],
)
def test_domain_is_normalised_whichever_way_it_comes_in(entered, stored):
    company = company_create(name="Alpha", domain=entered)
    assert company.domain == stored
    company_update(company=company, domain=entered.upper())
    company.refresh_from_db()
    assert company.domain == stored


def test_api_normalises_the_domain_like_the_form(api_client_for, sales_user):
    api = api_client_for(sales_user)
    response = api.post(
        "/api/v1/companies/", {"name": "Via API", "domain": "https://Same.de/"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["domain"] == "same.de"
