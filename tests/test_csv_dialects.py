"""CSV downloads follow the page's language: German Excel splits on ";" and reads "0,5" as a number.
The API's files stay in the English form, whatever the client's language (integrations parse them)."""

from decimal import Decimal

import pytest

from config.csv import safe_cell
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}


def lines(response) -> list[str]:
    return (
        b"".join(response.streaming_content if response.streaming else [response.content])
        .decode("utf-8-sig")
        .splitlines()
    )


def test_numbers_take_the_decimal_mark_and_text_stays_text():
    assert safe_cell(0.5, decimal=",") == "0,5"
    assert safe_cell(Decimal("1234.50"), decimal=",") == "1234,50"
    assert safe_cell(-3, decimal=",") == "-3"
    assert safe_cell("1.5", decimal=",") == "1.5"  # text is not a number to reformat
    assert safe_cell("-1,5", decimal=",") == "'-1,5"


def test_german_pages_download_german_csv_and_the_api_does_not(client_for, api_client_for, sales_user):
    ContactFactory(first_name="Jörg", last_name="Müller")
    german = lines(client_for(sales_user).get("/contacts/export.csv", **GERMAN))
    assert german[0].startswith("id;email;")
    assert "Jörg;Müller" in german[1]
    english = lines(client_for(sales_user).get("/contacts/export.csv"))
    assert english[0].startswith("id,email,")
    api = lines(api_client_for(sales_user).get("/api/v1/contacts/export/", **GERMAN))
    assert api[0].startswith("id,email,")


def test_a_german_report_has_decimal_commas(client_for, sales_user):
    from analytics.fold import fold_pending
    from funnel.services import contact_move_stage
    from tests.factories import stage

    for _ in range(2):
        ContactFactory(stage=stage("suspect"))
    contact_move_stage(contact=ContactFactory(stage=stage("suspect")), stage=stage("lead"))
    fold_pending()
    rows = lines(client_for(sales_user).get("/analytics/csv/summary/", **GERMAN))
    suspect = next(row for row in rows[1:] if row.split(";")[0] in ("suspect", "Suspect"))
    assert ";" in suspect and "0,33" in suspect  # one of three went on to lead
