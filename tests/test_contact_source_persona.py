"""A contact's source and persona: the contact form, the detail page and the API (API.md "Contacts",
added fields), plus the demo and generated data that feed the analytics breakdowns."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from content.models import Persona
from funnel import datagen, demo
from funnel.models import Contact, StageTransition
from funnel.services import contact_set_tags
from tests.factories import CompanyFactory, ContactFactory, stage

pytestmark = pytest.mark.django_db

SOURCES = [value for value, _label in Contact.Source.choices]


@pytest.fixture
def persona(db):
    return Persona.objects.create(name="Hardware lead", roles="CTO", industries="medical devices")


@pytest.fixture
def web(client_for, sales_user):
    return client_for(sales_user)


@pytest.fixture
def api(api_client_for, sales_user):
    return api_client_for(sales_user)


def form_data(**overrides):
    data = {
        "first_name": "Nina",
        "last_name": "Neu",
        "email": "nina@example.com",
        "phone": "",
        "job_title": "CTO",
        "company": "",
        "owner": "",
        "tags": "",
        "source": "",
        "persona": "",
        "stage": "lead",
    }
    data.update(overrides)
    return data


def field_block(html: str, name: str) -> str:
    """The form row of one field: from its label to the next row."""
    start = html.index(f'for="id_{name}"')
    end = html.find('<div class="field', start)
    return html[start : end if end != -1 else len(html)]


# --- Contact form ---------------------------------------------------------------------------------


def test_form_offers_every_source_and_the_personas_with_empty_choices(web, persona):
    Persona.objects.create(name="<b>Einkauf</b> & Co")
    html = web.get(reverse("funnel:contact-create")).content.decode()
    source = field_block(html, "source")
    assert '<select name="source"' in source
    assert '<option value="" selected>— unknown —</option>' in source
    for value, label in Contact.Source.choices:
        assert f'<option value="{value}">{label}</option>' in source
    personas = field_block(html, "persona")
    assert '<option value="" selected>— none —</option>' in personas
    assert f'<option value="{persona.pk}">Hardware lead</option>' in personas
    assert "&lt;b&gt;Einkauf&lt;/b&gt; &amp; Co" in personas and "<b>Einkauf" not in html


def test_create_with_source_and_persona(web, persona):
    response = web.post(reverse("funnel:contact-create"), form_data(source="referral", persona=persona.pk))
    assert response.status_code == 302
    contact = Contact.objects.get(email="nina@example.com")
    assert (contact.source, contact.persona) == ("referral", persona)


def test_create_without_them_stores_unknown(web):
    data = form_data()
    del data["source"], data["persona"]  # an old form, or a client that leaves them out
    assert web.post(reverse("funnel:contact-create"), data).status_code == 302
    contact = Contact.objects.get(email="nina@example.com")
    assert (contact.source, contact.persona) == ("", None)


def test_edit_shows_the_current_values_and_changes_them(web, persona):
    other = Persona.objects.create(name="Purchasing")
    contact = ContactFactory(source="event", persona=persona, stage=stage("lead"))
    url = reverse("funnel:contact-edit", args=[contact.pk])
    html = web.get(url).content.decode()
    assert '<option value="event" selected>' in field_block(html, "source")
    assert f'<option value="{persona.pk}" selected>' in field_block(html, "persona")

    assert web.post(url, form_data(source="partner", persona=other.pk)).status_code == 302
    contact.refresh_from_db()
    assert (contact.source, contact.persona) == ("partner", other)

    assert web.post(url, form_data(source="", persona="")).status_code == 302
    contact.refresh_from_db()
    assert (contact.source, contact.persona) == ("", None)


@pytest.mark.parametrize(
    "field, value",
    [("source", "fax"), ("source", "Website"), ("persona", "999999"), ("persona", "abc")],
)
def test_bad_values_are_shown_at_the_field_and_nothing_is_stored(web, persona, field, value):
    contact = ContactFactory(source="website", persona=persona)
    for url in (reverse("funnel:contact-create"), reverse("funnel:contact-edit", args=[contact.pk])):
        response = web.post(url, form_data(**{field: value}))
        assert response.status_code == 400
        block = field_block(response.content.decode(), field)
        assert "Select a valid choice." in block
        assert 'aria-invalid="true"' in block
    assert list(Contact.objects.values_list("email", "source", "persona")) == [
        (contact.email, "website", persona.pk)
    ]


def test_help_texts_are_tied_to_their_fields(web):
    html = web.get(reverse("funnel:contact-create")).content.decode()
    for name in ("source", "persona", "company", "tags"):
        assert f'aria-describedby="id_{name}_helptext"' in html
        assert f'id="id_{name}_helptext"' in html


# --- Detail page ------------------------------------------------------------------------------------


def test_detail_shows_the_source_label_and_links_the_persona(web):
    persona = Persona.objects.create(name="<script>alert(1)</script> & lead")
    contact = ContactFactory(source="outbound", persona=persona)
    html = web.get(reverse("funnel:contact-detail", args=[contact.pk])).content.decode()
    assert "<dt>Source</dt>\n            <dd>Own prospecting</dd>" in html
    link = f'<a href="{reverse("content:persona-list")}#persona-{persona.pk}">'
    assert f"{link}&lt;script&gt;alert(1)&lt;/script&gt; &amp; lead</a>" in html
    assert "<script>alert(1)" not in html


def test_detail_says_when_they_are_unknown(web):
    contact = ContactFactory()
    html = web.get(reverse("funnel:contact-detail", args=[contact.pk])).content.decode()
    assert '<dt>Source</dt>\n            <dd><span class="muted">unknown</span></dd>' in html
    assert '<dt>Persona</dt>\n            <dd><span class="muted">—</span></dd>' in html


def test_detail_loads_the_persona_without_an_extra_query(web, persona):
    def queries(contact) -> int:
        url = reverse("funnel:contact-detail", args=[contact.pk])
        web.get(url)  # warm up: session and per-process caches
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(url).status_code == 200
        return len(ctx.captured_queries)

    without = ContactFactory(company=CompanyFactory())
    with_persona = ContactFactory(company=CompanyFactory(), source="event", persona=persona)
    assert queries(with_persona) == queries(without)


def test_deleting_the_persona_leaves_the_contact_without_one(persona):
    contact = ContactFactory(source="event", persona=persona)
    persona.delete()
    contact.refresh_from_db()
    assert (contact.source, contact.persona) == ("event", None)


# --- API ------------------------------------------------------------------------------------------


def test_api_create_with_source_and_persona(api, persona):
    response = api.post(
        "/api/v1/contacts/",
        {"email": "a@example.com", "source": "event", "persona": persona.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["source"], body["persona"]) == ("event", persona.pk)
    contact = Contact.objects.get(pk=body["id"])
    assert (contact.source, contact.persona) == ("event", persona)
    assert api.get(f"/api/v1/contacts/{contact.pk}/").json()["persona"] == persona.pk


def test_api_defaults_are_unknown_and_null(api):
    body = api.post("/api/v1/contacts/", {"email": "a@example.com"}, format="json").json()
    assert (body["source"], body["persona"]) == ("", None)
    assert (Contact.objects.get().source, Contact.objects.get().persona) == ("", None)


def test_api_accepts_every_source(api):
    for n, source in enumerate([*SOURCES, ""]):
        body = api.post("/api/v1/contacts/", {"email": f"c{n}@example.com", "source": source}, format="json")
        assert body.status_code == 201 and body.json()["source"] == source


def test_api_patch_changes_and_clears_them_and_leaves_them_alone_otherwise(api, persona):
    contact = ContactFactory()
    url = f"/api/v1/contacts/{contact.pk}/"
    body = api.patch(url, {"source": "partner", "persona": persona.pk}, format="json").json()
    assert (body["source"], body["persona"]) == ("partner", persona.pk)
    body = api.patch(url, {"first_name": "Other"}, format="json").json()
    assert (body["source"], body["persona"]) == ("partner", persona.pk)
    body = api.patch(url, {"source": "", "persona": None}, format="json").json()
    assert (body["source"], body["persona"]) == ("", None)
    contact.refresh_from_db()
    assert (contact.source, contact.persona) == ("", None)


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({"source": "fax"}, "source", '"fax" is not a valid choice.'),
        ({"source": "Website"}, "source", '"Website" is not a valid choice.'),
        ({"source": None}, "source", "This field may not be null."),
        ({"source": ["website"]}, "source", None),
        ({"persona": 999999}, "persona", "There is no persona with id 999999."),
        ({"persona": "abc"}, "persona", None),
        ({"persona": {"id": 1}}, "persona", None),
    ],
)
def test_api_rejects_bad_values_with_400_naming_the_field(api, persona, payload, field, message):
    contact = ContactFactory(source="website", persona=persona)
    before = Contact.objects.count(), StageTransition.objects.count()
    for method, url in (("post", "/api/v1/contacts/"), ("patch", f"/api/v1/contacts/{contact.pk}/")):
        response = getattr(api, method)(url, {"email": "new@example.com", **payload}, format="json")
        assert response.status_code == 400
        errors = response.json()
        assert list(errors) == [field]
        if message:
            assert errors[field] == [message]
    assert (Contact.objects.count(), StageTransition.objects.count()) == before
    assert list(Contact.objects.values_list("email", "source", "persona")) == [
        (contact.email, "website", persona.pk)
    ]


def test_api_list_query_count_does_not_grow_with_personas(
    api, sales_user, persona, django_assert_num_queries
):
    api.get("/api/v1/contacts/")  # the first request records the token's use
    personas = [persona, Persona.objects.create(name="Second"), Persona.objects.create(name="Third")]
    for n in range(12):
        contact = ContactFactory(
            company=CompanyFactory(), owner=sales_user, source=SOURCES[n % 9], persona=personas[n % 3]
        )
        contact_set_tags(contact=contact, tags=["a"])
    # token + roles + count + page (with stage, company, owner, persona) + tags: as without them
    with django_assert_num_queries(5):
        results = api.get("/api/v1/contacts/").json()["results"]
    assert {r["persona"] for r in results} == {p.pk for p in personas}
    assert {r["source"] for r in results} == set(SOURCES)


def test_schema_documents_both_fields_and_keeps_the_task_source_enum(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    for name in ("Contact", "ContactRequest", "PatchedContactRequest"):
        properties = schema[name]["properties"]
        assert properties["source"] == {"$ref": "#/components/schemas/ContactSourceEnum"}
        assert properties["persona"]["type"] == "integer" and properties["persona"]["nullable"] is True
    assert schema["ContactSourceEnum"]["enum"] == [*SOURCES, ""]
    # Left to itself, drf-spectacular renames clashing enums; the tasks' one keeps its published name.
    assert "SourceEnum" in schema and "TaskSourceEnum" not in schema


# --- Demo and generated data ----------------------------------------------------------------------


def test_demo_sources_follow_the_planned_mix_and_personas_fit_job_titles(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    contacts = Contact.objects.all()
    total = contacts.count()
    shares = {s: contacts.filter(source=s).count() / total for s in SOURCES}
    assert not contacts.filter(source="").exists()
    for source, weight in demo.SOURCE_WEIGHTS:
        assert abs(shares[source] - weight / 100) < 0.07, (source, shares[source])

    hardware = Persona.objects.get(name="Hardware development lead")
    purchasing = Persona.objects.get(name="Purchasing manager")
    assert set(contacts.filter(persona=purchasing).values_list("job_title", flat=True)) <= {
        "Einkauf",
        "Strategischer Einkauf",
        "Procurement Manager",
        "Supply Chain Manager",
    }
    assert "CTO" in set(contacts.filter(persona=hardware).values_list("job_title", flat=True))
    assert 0.2 < contacts.filter(persona__isnull=False).count() / total < 0.7

    # A second run changes nothing, also for contacts someone has since given another persona.
    contact = contacts.filter(persona=hardware).first()
    Contact.objects.filter(pk=contact.pk).update(persona=purchasing)
    before = list(contacts.order_by("pk").values_list("pk", "source", "persona"))
    call_command("load_demo", stdout=StringIO())
    assert list(contacts.order_by("pk").values_list("pk", "source", "persona")) == before


def test_demo_plan_sources_are_deterministic():
    first, second = demo.build_plan(seed=7), demo.build_plan(seed=7)
    assert [c.source for c in first.contacts] == [c.source for c in second.contacts]
    assert {c.source for c in first.contacts} <= set(SOURCES)


def test_generated_contacts_get_sources_including_a_few_unknown():
    datagen.generate(contacts=2_000, companies=20, seed=3, batch=700)
    total = Contact.objects.count()
    assert total == 2_000
    shares = {s: Contact.objects.filter(source=s).count() / total for s in [*SOURCES, ""]}
    assert 0.28 < shares["website"] < 0.40
    assert 0.01 < shares[""] < 0.10
    assert shares["other"] == 0
    assert not Contact.objects.filter(persona__isnull=False).exists()
