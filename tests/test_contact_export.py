"""The contact list as CSV: /contacts/export.csv (browser UI) and /api/v1/contacts/export/ (API)."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.csv import csv_stream_response
from content.models import Persona
from funnel.exports import CONTACT_EXPORT_HEADER
from funnel.models import Contact
from funnel.services import contact_set_tags
from tests.factories import CompanyFactory, ContactFactory, stage

pytestmark = pytest.mark.django_db

UI_URL = reverse("funnel:contact-export")
API_URL = "/api/v1/contacts/export/"


@pytest.fixture
def client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.fixture
def api(api_client_for, sales_user):
    return api_client_for(sales_user)


def read_csv(response) -> list[list[str]]:
    """The rows after the header, checking what every export shares."""
    assert response.status_code == 200, response.content
    assert response.streaming, "a million contacts must not be built in memory"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="contacts-{today}.csv"'
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # BOM: Excel opens umlauts right
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == CONTACT_EXPORT_HEADER
    return rows[1:]


def as_dicts(rows):
    return [dict(zip(CONTACT_EXPORT_HEADER, row, strict=True)) for row in rows]


def get(kind, client, api, params=None):
    return client.get(UI_URL, params or {}) if kind == "ui" else api.get(API_URL, params or {})


BOTH = pytest.mark.parametrize("kind", ["ui", "api"])


# --- Content -----------------------------------------------------------------------------------------


@BOTH
def test_every_column(kind, client, api, sales_user):
    persona = Persona.objects.create(name="Hardware-Entwicklerin")
    contact = ContactFactory(
        email="jürgen@example.com",
        first_name="Jürgen",
        last_name="Müller",
        company=CompanyFactory(name="Platinen AG"),
        job_title="CTO",
        phone="+49 30 1234",
        stage=stage("lead"),
        owner=sales_user,
        source="website",
        persona=persona,
        consent_email=True,
    )
    contact_set_tags(contact=contact, tags=["pcb", "Messe"])
    Contact.objects.filter(pk=contact.pk).update(score=-3, fit_score=7, engagement_score=-10)
    contact.refresh_from_db()

    [row] = as_dicts(read_csv(get(kind, client, api)))
    assert row == {
        "id": str(contact.pk),
        "email": "jürgen@example.com",
        "first_name": "Jürgen",
        "last_name": "Müller",
        "company": "Platinen AG",
        "job_title": "CTO",
        "phone": "'+49 30 1234",  # text starting with "+": a spreadsheet would compute it
        "stage": "lead",
        "owner": "sales",
        "source": "website",
        "persona": "Hardware-Entwicklerin",
        "score": "-3",  # a real number stays a number
        "fit_score": "7",
        "engagement_score": "-10",
        "tags": "Messe;pcb",
        "consent_email": "True",
        "created_at": contact.created_at.isoformat(),
    }


@BOTH
def test_empty_relations_are_empty_cells(kind, client, api):
    ContactFactory(email=None, company=None, owner=None)
    [row] = as_dicts(read_csv(get(kind, client, api)))
    assert (row["email"], row["company"], row["owner"], row["persona"], row["tags"]) == ("", "", "", "", "")


@BOTH
def test_cells_a_spreadsheet_would_run_are_text(kind, client, api):
    contact = ContactFactory(
        first_name='=HYPERLINK("x")', last_name="<script>", company=CompanyFactory(name="@SUM(1)")
    )
    contact_set_tags(contact=contact, tags=["-1+1"])
    Contact.objects.filter(pk=contact.pk).update(score=42)
    [row] = as_dicts(read_csv(get(kind, client, api)))
    assert row["first_name"] == '\'=HYPERLINK("x")'
    assert row["company"] == "'@SUM(1)"
    assert row["tags"] == "'-1+1"
    assert row["last_name"] == "<script>"  # plain text, not escaped: a CSV is no HTML page
    assert row["score"] == "42"


@BOTH
def test_filters_and_order_apply(kind, client, api):
    kupfer = CompanyFactory(name="Kupfer GmbH")
    first = ContactFactory(stage=stage("lead"), company=kupfer, last_name="Arndt")
    second = ContactFactory(stage=stage("lead"), company=kupfer, last_name="Zeller")
    ContactFactory(stage=stage("suspect"), company=kupfer)  # other stage
    ContactFactory(stage=stage("lead"))  # no match for the search
    params = {"stage": "lead", "search": "kupfer", "ordering": "last_name"}
    rows = read_csv(get(kind, client, api, params))
    assert [int(row[0]) for row in rows] == [first.pk, second.pk]


@BOTH
def test_all_pages_are_exported(kind, client, api):
    ContactFactory.create_batch(60)
    assert len(read_csv(get(kind, client, api))) == 60


def test_api_filters_by_score_min(api):
    high, low = ContactFactory(), ContactFactory()
    Contact.objects.filter(pk=high.pk).update(score=50)
    Contact.objects.filter(pk=low.pk).update(score=10)
    assert [int(row[0]) for row in read_csv(api.get(API_URL, {"score_min": 20}))] == [high.pk]


# --- Bad filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "note"),
    [
        ({"stage": "nirvana"}, "Unknown stage “nirvana”"),
        ({"owner": "999999"}, "Unknown owner “999999”"),
        ({"owner": "abc"}, "Unknown owner “abc”"),
        ({"ordering": "-email"}, "Unknown sort order “-email”"),
        ({"topic": "t" * 500}, "Topic longer than 100 characters"),
    ],
)
def test_ui_bad_filter_is_400_naming_it(client, params, note):
    ContactFactory()
    response = client.get(UI_URL, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"  # the value is echoed, never as HTML
    assert note in response.content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"stage": "nirvana"}, "stage"),
        ({"owner": "abc"}, "owner"),
        ({"score_min": "x"}, "score_min"),
        ({"ordering": "-email"}, "ordering"),
    ],
)
def test_api_bad_filter_is_400_json(api, params, field):
    response = api.get(API_URL, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == [field]


def test_api_errors_stay_json_for_a_client_that_asks_for_csv(api):
    response = api.get(API_URL, {"stage": "nirvana"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert read_csv(api.get(API_URL, HTTP_ACCEPT="text/csv")) == []


# --- Who may export ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_may_export(request, client_for, api_client_for, user):
    ContactFactory()
    person = request.getfixturevalue(user)
    assert len(read_csv(api_client_for(person).get(API_URL))) == 1
    assert len(read_csv(client_for(person).get(UI_URL))) == 1


def test_outsider_gets_403(client_for, api_client_for, outsider):
    assert client_for(outsider).get(UI_URL).status_code == 403
    assert api_client_for(outsider).get(API_URL).status_code == 403


def test_anonymous_is_sent_to_login_or_401(api_client_for):
    response = Client().get(UI_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert api_client_for(None).get(API_URL).status_code == 401


def test_export_is_get_only(client, api):
    assert client.post(UI_URL).status_code == 405
    assert api.post(API_URL).status_code == 405


# --- The page links to it ---------------------------------------------------------------------------


def test_list_page_links_the_export_with_the_current_filters(client):
    ContactFactory(stage=stage("lead"), first_name="Kupfer")
    html = client.get(reverse("funnel:contact-list"), {"stage": "lead", "search": "kupfer"}).content.decode()
    assert f'href="{UI_URL}?search=kupfer&amp;stage=lead"' in html
    assert "Export CSV" in html


def test_list_page_export_link_leaves_out_ignored_filters(client):
    ContactFactory()
    html = client.get(reverse("funnel:contact-list"), {"stage": "nirvana"}).content.decode()
    assert f'href="{UI_URL}?"' in html or f'href="{UI_URL}"' in html


# --- Scale: no N+1, streamed ---------------------------------------------------------------------


def build(n, sales_user):
    for i in range(n):
        contact = ContactFactory(
            company=CompanyFactory(),
            owner=sales_user,
            persona=Persona.objects.get_or_create(name="P")[0],
        )
        contact_set_tags(contact=contact, tags=[f"tag{i}", "common"])


# Session + user + roles, stages, owners (for validating the filters), the audit entry, contacts, one
# tag prefetch.
UI_QUERIES = 8
# Token with its user, the token's last-used stamp, roles, the audit entry, contacts, one tag prefetch.
API_QUERIES = 6


@pytest.mark.parametrize("n", [3, 30])
def test_ui_query_count_is_constant(client, django_assert_num_queries, sales_user, n):
    build(n, sales_user)
    with django_assert_num_queries(UI_QUERIES):
        assert len(read_csv(client.get(UI_URL))) == n


@pytest.mark.parametrize("n", [3, 30])
def test_api_query_count_is_constant(api, django_assert_num_queries, sales_user, n):
    build(n, sales_user)
    with django_assert_num_queries(API_QUERIES):
        assert len(read_csv(api.get(API_URL))) == n


def test_rows_are_read_in_chunks(client, django_assert_num_queries, sales_user, monkeypatch):
    monkeypatch.setattr("funnel.exports.CHUNK_SIZE", 10)
    build(25, sales_user)
    # Three chunks: three tag prefetches instead of one.
    with django_assert_num_queries(UI_QUERIES + 2):
        assert len(read_csv(client.get(UI_URL))) == 25


def test_stream_helper_writes_lazily():
    consumed = []

    def rows():
        for i in range(3):
            consumed.append(i)
            yield [i, f"={i}"]

    response = csv_stream_response("x y.csv", ["n", "text"], rows())
    assert consumed == []
    assert response["Content-Disposition"] == 'attachment; filename="x-y.csv"'
    chunks = [chunk.decode() for chunk in response.streaming_content]
    assert chunks == ["\ufeffn,text\r\n", "0,'=0\r\n", "1,'=1\r\n", "2,'=2\r\n"]


def test_every_export_is_in_the_audit_log(client_for, api_client_for, sales_user):
    from audit.models import Action, AuditEntry

    client_for(sales_user).get("/contacts/export.csv", {"stage": "lead", "search": "Anna Schmidt"})
    api_client_for(sales_user).get("/api/v1/contacts/export/")
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.target_type, e.actor_id) for e in entries] == [
        (Action.EXPORT, "contacts.csv", sales_user.pk),
        (Action.EXPORT, "api:contacts.csv", sales_user.pk),
    ]
    assert entries[0].details == {"filters": ["search", "stage"]}  # the names, not the search term
