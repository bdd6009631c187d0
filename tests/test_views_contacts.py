"""Browser UI: contact list, detail with stage moves, create / edit / delete."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from funnel.models import Contact, StageTransition, Tag
from funnel.services import contact_move_stage, contact_set_tags
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

LIST_URL = reverse("funnel:contact-list")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def client(client, sales_user):
    client.force_login(sales_user)
    return client


def first_names(response) -> list[str]:
    return [c.first_name for c in response.context["page"].items]


def tagged(contact, *names):
    contact_set_tags(contact=contact, tags=names)
    return contact


# --- List: columns, filters, ordering, search ------------------------------------------------------


def test_list_shows_the_columns(client, sales_user):
    company = CompanyFactory(name="Platinen AG")
    contact = tagged(
        ContactFactory(
            first_name="Anna",
            last_name="Schmidt",
            email="anna@platinen.de",
            company=company,
            owner=sales_user,
            stage=stage("lead"),
            score=42,
        ),
        "Messe",
    )
    response = client.get(LIST_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{reverse("funnel:contact-detail", args=[contact.pk])}"' in html
    for text in ("Anna Schmidt", "anna@platinen.de", "Platinen AG", "Lead", "sales", "Messe", "42"):
        assert text in html


@pytest.mark.parametrize("param", ["stage", "owner", "tag"])
def test_list_filters(client, sales_user, marketing_user, param):
    match = tagged(ContactFactory(first_name="Match", stage=stage("prospect"), owner=sales_user), "Messe")
    ContactFactory(first_name="Other", stage=stage("lead"), owner=marketing_user)
    tagged(ContactFactory(first_name="Third"), "Newsletter")
    value = {"stage": "prospect", "owner": str(sales_user.pk), "tag": "messe"}[param]
    response = client.get(LIST_URL, {param: value})
    assert first_names(response) == [match.first_name]
    assert "Other" not in response.content.decode()


def test_filters_combine(client, sales_user):
    ContactFactory(first_name="Both", stage=stage("lead"), owner=sales_user)
    ContactFactory(first_name="StageOnly", stage=stage("lead"))
    ContactFactory(first_name="OwnerOnly", owner=sales_user)
    response = client.get(LIST_URL, {"stage": "lead", "owner": sales_user.pk})
    assert first_names(response) == ["Both"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-score", ["B", "C", "A"]),
        ("score", ["A", "C", "B"]),
        ("-created_at", ["C", "A", "B"]),
        ("created_at", ["B", "A", "C"]),
        ("last_name", ["A", "B", "C"]),
        (None, ["C", "A", "B"]),  # default: newest first
    ],
)
def test_list_orderings(client, ordering, expected):
    now = timezone.now()
    ContactFactory(first_name="A", last_name="Adler", score=1, created_at=now - timedelta(days=2))
    ContactFactory(first_name="B", last_name="Bauer", score=30, created_at=now - timedelta(days=3))
    ContactFactory(first_name="C", last_name="Christ", score=20, created_at=now - timedelta(days=1))
    response = client.get(LIST_URL, {"ordering": ordering} if ordering else {})
    assert first_names(response) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("annegret", ["Annegret"]),  # first name, case-insensitive
        ("boris@", ["Boris"]),  # email
        ("leiterplatten", ["Annegret", "Carla"]),  # company name
        ("Carla Weber", ["Carla"]),  # first and last name
        ("nobody-here", []),
    ],
)
def test_list_search(client, search, expected):
    company = CompanyFactory(name="Leiterplatten KG")
    ContactFactory(first_name="Annegret", last_name="Roth", email="a@x.de", company=company)
    ContactFactory(first_name="Boris", last_name="Lang", email="boris@y.de")
    ContactFactory(first_name="Carla", last_name="Weber", email="c@z.de", company=company)
    response = client.get(LIST_URL, {"search": search})
    assert sorted(first_names(response)) == expected


def test_htmx_request_gets_only_the_results(client):
    ContactFactory(first_name="Zora", last_name="Klein")
    response = client.get(LIST_URL, {"search": "zora"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="contact-results"' in html
    assert "Zora Klein" in html
    assert "HX-Request" in response["Vary"]


def test_full_page_carries_the_live_search(client):
    html = client.get(LIST_URL).content.decode()
    assert "<html" in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-push-url="true"' in html
    assert 'id="contact-results"' in html


def test_htmx_history_restore_gets_the_full_page(client):
    response = client.get(LIST_URL, **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "note"),
    [
        ({"stage": "nonsense"}, "Unknown stage"),
        ({"owner": "abc"}, "Unknown owner"),
        ({"owner": "999999"}, "Unknown owner"),
        ({"ordering": "name; DROP TABLE funnel_contact"}, "Unknown sort order"),
        ({"ordering": "-email"}, "Unknown sort order"),
        ({"page": "abc"}, None),
        ({"page": "-3"}, None),
        ({"page": "99999999999999999999"}, None),
        ({"score_min": "x", "tag": "t" * 500, "search": "s" * 5000}, None),
    ],
)
def test_invalid_params_are_ignored_never_a_500(client, params, note):
    ContactFactory(first_name="Still")
    response = client.get(LIST_URL, params)
    assert response.status_code == 200
    if note:
        assert note in response.content.decode()
        assert first_names(response) == ["Still"]


def test_unknown_param_values_are_escaped_in_the_note(client):
    response = client.get(LIST_URL, {"stage": "<b>x</b>"})
    html = response.content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


def test_pagination_keeps_the_filters(client):
    ContactFactory.create_batch(52, stage=stage("lead"), score=5)
    ContactFactory.create_batch(3, stage=stage("suspect"))
    response = client.get(LIST_URL, {"stage": "lead", "ordering": "-score"})
    page = response.context["page"]
    assert len(page.items) == 50
    assert page.has_next
    assert page.total == 52
    html = response.content.decode()
    assert "?stage=lead&amp;ordering=-score&amp;page=2" in html

    second = client.get(LIST_URL, {"stage": "lead", "ordering": "-score", "page": 2})
    items = second.context["page"].items
    assert len(items) == 2
    assert {c.stage.key for c in items} == {"lead"}
    assert "page=1" in second.content.decode()


def test_page_past_the_end_is_not_an_error(client):
    ContactFactory()
    response = client.get(LIST_URL, {"page": 7})
    assert response.status_code == 200
    assert "past the end" in response.content.decode()


def test_count_is_capped(client, monkeypatch):
    from funnel.views import contacts as views

    monkeypatch.setattr("config.web.COUNT_CAP", 3)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    ContactFactory.create_batch(5)
    response = client.get(LIST_URL)
    assert response.context["page"].total is None
    assert "more than 3" in response.content.decode()


# Pinned: session, user, the user's roles, stages, owners with a role, tag suggestions, topic
# suggestions, the contacts page (company, stage and owner joined in), one prefetch of their tags and
# one lookup of which of them are in a nurture sequence (the "In nurture" badge).
# The COUNT is not needed while everything fits on one page.
LIST_QUERIES = 10


@pytest.mark.parametrize("n", [3, 30])
def test_list_query_count_is_constant(client, django_assert_num_queries, sales_user, n):
    for i in range(n):
        tagged(ContactFactory(company=CompanyFactory(), owner=sales_user), f"tag{i}", "common")
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST_URL)
    assert len(response.context["page"].items) == n


def test_list_with_filters_and_a_second_page_adds_only_the_bounded_count(
    client, django_assert_num_queries, sales_user
):
    for _ in range(55):
        tagged(ContactFactory(company=CompanyFactory(name="Kupfer GmbH"), owner=sales_user), "x")
    # + the company lookup of the search, + the tag lookup, + the bounded COUNT.
    with django_assert_num_queries(LIST_QUERIES + 3):
        client.get(LIST_URL, {"search": "kupfer", "stage": "suspect", "owner": sales_user.pk, "tag": "x"})


def test_first_run_empty_state(client):
    html = client.get(LIST_URL).content.decode()
    assert "No contacts yet" in html
    assert reverse("funnel:contact-create") in html


def test_no_match_empty_state_has_a_clear_link(client):
    ContactFactory()
    html = client.get(LIST_URL, {"search": "zzz"}).content.decode()
    assert "No contacts match" in html
    assert "Clear filters" in html


# --- Detail and stage moves ------------------------------------------------------------------------


def test_detail_shows_data_and_history(client, sales_user):
    company = CompanyFactory(name="Gehäusebau GmbH")
    contact = tagged(
        ContactFactory(
            first_name="Eva",
            last_name="Ernst",
            company=company,
            owner=sales_user,
            consent_email=True,
            properties={"source": "fair", "visits": 3},
            score=12,
            fit_score=5,
            engagement_score=7,
        ),
        "VIP",
    )
    contact_move_stage(contact=contact, stage=stage("lead"), by=sales_user, reason="Met at the booth")
    contact_move_stage(contact=contact, stage=stage("prospect"), rule="fast lane: demo_request")
    response = client.get(reverse("funnel:contact-detail", args=[contact.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("funnel:company-detail", args=[company.pk]) in html
    for text in (
        "Eva Ernst",
        "Gehäusebau GmbH",
        "VIP",
        "source",
        "fair",
        "visits",
        "Met at the booth",
        "fast lane: demo_request",
        "Stage history",
        "newest first",
    ):
        assert text in html
    transitions = response.context["transitions"]
    assert [t.to_stage.key for t in transitions] == ["prospect", "lead", "suspect"]
    assert html.index("fast lane: demo_request") < html.index("Met at the booth")


def test_detail_404(client):
    assert client.get(reverse("funnel:contact-detail", args=[999999])).status_code == 404


def test_move_via_htmx_records_transition_with_reason_and_user(client, sales_user):
    contact = ContactFactory()
    url = reverse("funnel:contact-move", args=[contact.pk])
    response = client.post(url, {"stage": "prospect", "reason": "Asked for an NDA"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="contact-stage"' in html
    assert "Asked for an NDA" in html
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    last = contact.transitions.last()
    assert (last.from_stage.key, last.to_stage.key, last.by, last.reason) == (
        "suspect",
        "prospect",
        sales_user,
        "Asked for an NDA",
    )


def test_move_to_the_current_stage_records_nothing(client):
    contact = ContactFactory(stage=stage("lead"))
    before = StageTransition.objects.count()
    response = client.post(reverse("funnel:contact-move", args=[contact.pk]), {"stage": "lead"}, **HTMX)
    assert response.status_code == 200
    assert "Already in this stage" in response.content.decode()
    assert StageTransition.objects.count() == before


def test_move_without_javascript_redirects_back(client):
    contact = ContactFactory()
    url = reverse("funnel:contact-move", args=[contact.pk])
    response = client.post(url, {"stage": "lead", "reason": ""}, follow=True)
    assert response.redirect_chain == [(reverse("funnel:contact-detail", args=[contact.pk]), 302)]
    assert "Moved from Suspect to Lead" in response.content.decode()
    assert contact.transitions.count() == 2


@pytest.mark.parametrize("htmx", [True, False])
def test_move_to_an_unknown_stage_shows_an_error(client, htmx):
    contact = ContactFactory()
    url = reverse("funnel:contact-move", args=[contact.pk])
    response = client.post(url, {"stage": "nirvana", "reason": "x"}, **(HTMX if htmx else {}))
    assert response.status_code == (200 if htmx else 400)
    assert "Select a valid choice" in response.content.decode()
    assert contact.transitions.count() == 1


def test_move_requires_post(client):
    contact = ContactFactory()
    assert client.get(reverse("funnel:contact-move", args=[contact.pk])).status_code == 405


def test_move_requires_csrf(sales_user):
    contact = ContactFactory()
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(sales_user)
    response = csrf_client.post(reverse("funnel:contact-move", args=[contact.pk]), {"stage": "lead"})
    assert response.status_code == 403
    assert contact.transitions.count() == 1


# --- Create, edit, delete ---------------------------------------------------------------------------


def contact_data(**overrides):
    data = {
        "first_name": "Nina",
        "last_name": "Neu",
        "email": "nina@example.com",
        "phone": "",
        "job_title": "CTO",
        "company": "",
        "owner": "",
        "tags": "Messe, newsletter, messe",
        "stage": "lead",
    }
    data.update(overrides)
    return data


def test_create_contact(client, sales_user):
    company = CompanyFactory(name="Sensorik GmbH")
    data = contact_data(company=f"Sensorik GmbH (#{company.pk})", owner=sales_user.pk, consent_email="on")
    response = client.post(reverse("funnel:contact-create"), data)
    contact = Contact.objects.get(email="nina@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("funnel:contact-detail", args=[contact.pk])
    assert (contact.stage.key, contact.company, contact.owner, contact.consent_email) == (
        "lead",
        company,
        sales_user,
        True,
    )
    assert sorted(contact.tags.values_list("name", flat=True)) == ["Messe", "newsletter"]
    entry = contact.transitions.get()
    assert (entry.from_stage, entry.to_stage.key, entry.by) == (None, "lead", sales_user)


def test_create_form_renders_the_company_suggestions_input(client):
    html = client.get(reverse("funnel:contact-create")).content.decode()
    assert 'list="company-options"' in html
    assert reverse("funnel:company-options") in html


def test_create_with_company_typed_by_unique_name(client):
    company = CompanyFactory(name="Einzig AG")
    client.post(reverse("funnel:contact-create"), contact_data(company="einzig ag"))
    assert Contact.objects.get(email="nina@example.com").company == company


@pytest.mark.parametrize(
    ("company", "error"),
    [("Gibtsnicht GmbH", "There is no company named"), ("Doppelt", "Several companies are named")],
)
def test_create_with_unknown_or_ambiguous_company_shows_an_error(client, company, error):
    CompanyFactory(name="Doppelt")
    CompanyFactory(name="Doppelt")
    response = client.post(reverse("funnel:contact-create"), contact_data(company=company))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Contact.objects.exists()


def test_create_without_email_is_fine(client):
    client.post(reverse("funnel:contact-create"), contact_data(email=""))
    client.post(reverse("funnel:contact-create"), contact_data(email="", first_name="Zweite"))
    assert Contact.objects.filter(email=None).count() == 2


def test_create_with_duplicate_email_shows_the_error_and_stores_nothing(client):
    ContactFactory(email="Taken@Example.com")
    counts = (Contact.objects.count(), StageTransition.objects.count(), Tag.objects.count())
    response = client.post(reverse("funnel:contact-create"), contact_data(email="taken@example.COM"))
    assert response.status_code == 400
    assert "A contact with this email address already exists." in response.content.decode()
    assert (Contact.objects.count(), StageTransition.objects.count(), Tag.objects.count()) == counts


def test_create_rejects_an_owner_without_a_role(client, outsider):
    response = client.post(reverse("funnel:contact-create"), contact_data(owner=outsider.pk))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Contact.objects.exists()


def test_create_rejects_a_bad_email(client):
    response = client.post(reverse("funnel:contact-create"), contact_data(email="not-an-email"))
    assert response.status_code == 400
    assert not Contact.objects.exists()


def test_edit_contact(client, sales_user):
    contact = tagged(ContactFactory(first_name="Old", stage=stage("lead")), "alt")
    url = reverse("funnel:contact-edit", args=[contact.pk])
    form_html = client.get(url).content.decode()
    assert 'value="alt"' in form_html
    assert 'name="stage"' not in form_html
    response = client.post(url, contact_data(first_name="New", tags="neu", owner=sales_user.pk))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.first_name, contact.owner, contact.stage.key) == ("New", sales_user, "lead")
    assert list(contact.tags.values_list("name", flat=True)) == ["neu"]


def test_edit_keeps_an_owner_who_lost_the_role(client):
    former = UserFactory(username="former")
    contact = ContactFactory(owner=former)
    response = client.post(reverse("funnel:contact-edit", args=[contact.pk]), contact_data(owner=former.pk))
    assert response.status_code == 302


def test_edit_with_duplicate_email_shows_the_error_and_changes_nothing(client):
    ContactFactory(email="taken@example.com")
    contact = ContactFactory(first_name="Keep", email="mine@example.com")
    url = reverse("funnel:contact-edit", args=[contact.pk])
    response = client.post(url, contact_data(first_name="Changed", email="TAKEN@example.com"))
    assert response.status_code == 400
    assert "A contact with this email address already exists." in response.content.decode()
    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Keep", "mine@example.com")


def test_edit_may_keep_its_own_email_in_other_case(client):
    contact = ContactFactory(email="me@example.com")
    response = client.post(
        reverse("funnel:contact-edit", args=[contact.pk]), contact_data(email="ME@example.com")
    )
    assert response.status_code == 302


def test_delete_asks_first_and_deletes_on_post(client):
    contact = ContactFactory(first_name="Weg")
    url = reverse("funnel:contact-delete", args=[contact.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert 'method="post"' in confirm.content.decode()
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert not Contact.objects.filter(pk=contact.pk).exists()


# --- Roles ------------------------------------------------------------------------------------------


VIEWS = [
    ("contact-list", False, "get"),
    ("contact-create", False, "get"),
    ("contact-create", False, "post"),
    ("contact-detail", True, "get"),
    ("contact-edit", True, "get"),
    ("contact-edit", True, "post"),
    ("contact-delete", True, "get"),
    ("contact-delete", True, "post"),
    ("contact-move", True, "post"),
]


def _url(name, with_pk):
    if not with_pk:
        return reverse(f"funnel:{name}")
    return reverse(f"funnel:{name}", args=[ContactFactory(first_name="Guarded").pk])


@pytest.mark.parametrize(("name", "with_pk", "method"), VIEWS)
def test_anonymous_is_sent_to_login(name, with_pk, method):
    url = _url(name, with_pk)
    response = getattr(Client(), method)(url, contact_data())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "with_pk", "method"), VIEWS)
def test_outsider_gets_403_and_changes_nothing(outsider, name, with_pk, method):
    url = _url(name, with_pk)
    before = list(Contact.objects.values_list("pk", "first_name", "stage_id"))
    outsider_client = Client()
    outsider_client.force_login(outsider)
    response = getattr(outsider_client, method)(url, contact_data())
    assert response.status_code == 403
    assert list(Contact.objects.values_list("pk", "first_name", "stage_id")) == before


@pytest.mark.parametrize("role_user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_may_work_contacts(request, role_user):
    user = request.getfixturevalue(role_user)
    role_client = Client()
    role_client.force_login(user)
    assert role_client.get(LIST_URL).status_code == 200


def test_superuser_counts_as_admin():
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    root_client = Client()
    root_client.force_login(superuser)
    assert root_client.get(LIST_URL).status_code == 200


# --- Escaping ---------------------------------------------------------------------------------------


XSS = "<script>alert(1)</script>"


def test_user_text_is_escaped_in_list_and_detail(client, sales_user):
    contact = tagged(
        ContactFactory(
            first_name=XSS,
            last_name=XSS,
            job_title=XSS,
            company=CompanyFactory(name=XSS),
            properties={XSS: XSS, "nested": {"k": XSS}},
        ),
        XSS[:50],
    )
    contact_move_stage(contact=contact, stage=stage("lead"), by=sales_user, reason=XSS)
    for response in (
        client.get(LIST_URL),
        client.get(LIST_URL, **HTMX),
        client.get(reverse("funnel:contact-detail", args=[contact.pk])),
        client.get(reverse("funnel:contact-edit", args=[contact.pk])),
    ):
        html = response.content.decode()
        assert XSS not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
