"""References (they count as activity and move the contact to the reference stage) and delight tasks."""

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase

from customers.models import Occasion, Reference
from customers.references import (
    delight_tasks_create,
    next_occurrence,
    occasion_save,
    reference_create,
    references_per_year,
)
from funnel.models import Contact
from sales.models import Task
from scoring.models import Event
from scoring.services import events_apply_pending
from tests.factories import ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db


def test_a_referral_is_recorded_as_activity_and_moves_a_consumer_to_reference():
    consumer = ContactFactory(stage=stage("consumption"))
    reference = reference_create(contact=consumer, kind="referral", date=date(2026, 5, 4), may_publish=True)
    event = Event.objects.get()
    assert (event.type.key, event.external_id, event.properties["reference"]) == (
        "referral",
        f"reference:{reference.pk}",
        reference.pk,
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        events_apply_pending()
    assert Contact.objects.get(pk=consumer.pk).stage.key == "reference"


def test_bad_references_store_nothing():
    contact = ContactFactory()
    with pytest.raises(ValidationError):
        reference_create(contact=contact, kind="gossip", date=date(2026, 1, 1))
    with pytest.raises(ValidationError):
        reference_create(contact=contact, kind="review", date=None)
    with pytest.raises(ValidationError):
        reference_create(contact=contact, kind="review", date=date(2026, 1, 1), link="not a url")
    assert not Reference.objects.exists() and not Event.objects.exists()


def test_references_per_year():
    contact = ContactFactory()
    for day, publish in [(date(2025, 3, 1), True), (date(2026, 1, 5), False), (date(2026, 7, 9), True)]:
        reference_create(contact=contact, kind="testimonial", date=day, may_publish=publish)
    assert references_per_year() == [(2026, 2, 1), (2025, 1, 1)]


def test_next_occurrence_wraps_the_year_and_leap_days():
    assert next_occurrence(date(1980, 12, 24), date(2026, 12, 20)) == date(2026, 12, 24)
    assert next_occurrence(date(1980, 1, 3), date(2026, 12, 20)) == date(2027, 1, 3)
    assert next_occurrence(date(1984, 2, 29), date(2026, 2, 1)) == date(2026, 2, 28)


def test_delight_tasks_for_customers_once_per_occasion_and_year():
    rep = UserFactory(roles=["sales"])
    customer = ContactFactory(stage=stage("customer"), owner=rep)
    lead = ContactFactory(stage=stage("lead"), owner=rep)
    occasion_save(contact=customer, kind="birthday", date=date(1975, 6, 10), note="Likes dark chocolate")
    occasion_save(contact=customer, kind="first_order", date=date(2024, 9, 1))  # too far ahead
    occasion_save(contact=lead, kind="birthday", date=date(1990, 6, 9))  # not a customer
    now = datetime(2026, 6, 5, 8, 0, tzinfo=UTC)
    assert delight_tasks_create(now=now) == 1
    assert delight_tasks_create(now=now) == 0
    task = Task.objects.get()
    assert (task.contact, task.owner, task.kind, task.source) == (customer, rep, "delight", "occasion")
    assert task.note == "Likes dark chocolate" and "10.06." in task.title
    assert delight_tasks_create(now=datetime(2027, 6, 5, 8, 0, tzinfo=UTC)) == 1  # next year again
    with pytest.raises(ValidationError):
        occasion_save(contact=customer, kind="birthday", date=date(1975, 6, 10))  # the same one twice
    assert Occasion.objects.count() == 3


# --- Pages ----------------------------------------------------------------------------------------


def test_contact_section_adds_references_and_occasions(client_for, sales_user):
    client = client_for(sales_user)
    contact = ContactFactory(stage=stage("customer"))
    url = f"/customers/contacts/{contact.pk}/references/"
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
    bad = client.post(
        f"/customers/contacts/{contact.pk}/references/add/",
        {"ref-kind": "gossip", "ref-date": "soon"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400 and not Reference.objects.exists()
    good = client.post(
        f"/customers/contacts/{contact.pk}/references/add/",
        {"ref-kind": "testimonial", "ref-date": "2026-05-01", "ref-note": "<b>great</b>"},
        headers={"HX-Request": "true"},
    )
    assert good.status_code == 200
    assert b"&lt;b&gt;great&lt;/b&gt;" in good.content
    assert Reference.objects.get().created_by == sales_user
    assert (
        client.post(
            f"/customers/contacts/{contact.pk}/occasions/add/",
            {"occ-kind": "birthday", "occ-date": "1980-02-29"},
        ).status_code
        == 302
    )
    assert client.get("/customers/references/?kind=bogus&page=x").status_code == 200
    assert client.post(f"/customers/contacts/{10**9}/occasions/add/", {}).status_code == 404


def test_only_the_recorder_or_an_admin_deletes_a_reference(client, sales_user, admin_user):
    contact = ContactFactory()
    reference = reference_create(contact=contact, kind="review", date=date(2026, 1, 1), by=admin_user)
    client.force_login(sales_user)
    assert client.post(f"/customers/references/{reference.pk}/delete/").status_code == 403
    client.force_login(admin_user)
    assert client.post(f"/customers/references/{reference.pk}/delete/").status_code == 302
    assert not Reference.objects.exists()


def test_outsiders_see_nothing(client, outsider):
    client.force_login(outsider)
    assert client.get("/customers/references/").status_code == 403


# --- API ------------------------------------------------------------------------------------------


def test_references_api(api_client_for, sales_user, admin_user, outsider):
    contact = ContactFactory(stage=stage("consumption"))
    api = api_client_for(sales_user)
    created = api.post(
        "/api/v1/references/",
        {"contact": contact.pk, "kind": "case_study", "date": "2026-04-01", "may_publish": True},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["company"], body["created_by"], body["kind"]) == (
        contact.company_id,
        sales_user.pk,
        "case_study",
    )
    assert Event.objects.get().type.key == "reference_given"
    for bad in (
        {"contact": contact.pk, "kind": "gossip", "date": "2026-04-01"},
        {"contact": 10**9, "kind": "review", "date": "2026-04-01"},
        {"contact": contact.pk, "kind": "review", "date": "yesterday"},
        {"contact": "x", "kind": "review", "date": "2026-04-01"},
    ):
        response = api.post("/api/v1/references/", bad, format="json")
        assert response.status_code == 400, bad
    assert Reference.objects.count() == 1
    assert api.get(f"/api/v1/references/?contact={contact.pk}").json()["count"] == 1
    assert api.get("/api/v1/references/?contact=abc").status_code == 400
    other = api_client_for(UserFactory(username="other-rep", roles=["sales"]))
    assert other.delete(f"/api/v1/references/{body['id']}/").status_code == 403
    assert api_client_for(admin_user).delete(f"/api/v1/references/{body['id']}/").status_code == 204
    assert api_client_for(outsider).get("/api/v1/references/").status_code == 403
    assert api_client_for(None).get("/api/v1/references/").status_code == 401


def test_the_company_page_lists_its_references(client_for, sales_user, django_assert_max_num_queries):
    from tests.factories import CompanyFactory

    firm = CompanyFactory(name="Müller <GmbH>")
    for n in range(3):
        reference_create(contact=ContactFactory(company=firm), kind="review", date=date(2026, 1, 1 + n))
    client = client_for(sales_user)
    client.get(f"/customers/companies/{firm.pk}/references/")
    with django_assert_max_num_queries(6):
        page = client.get(f"/customers/companies/{firm.pk}/references/", headers={"HX-Request": "true"})
    assert page.status_code == 200 and page.content.count(b"<li>") == 3
    full = client.get(f"/customers/companies/{firm.pk}/references/")
    assert "Müller &lt;GmbH&gt;".encode() in full.content
    assert client.get("/customers/companies/999999/references/").status_code == 404


def test_the_references_list_pages_keep_the_filter(client_for, sales_user):
    contact = ContactFactory()
    Reference.objects.bulk_create(
        [Reference(contact=contact, kind="review", date=date(2026, 1, 1)) for _ in range(51)]
    )
    first = client_for(sales_user).get("/customers/references/?kind=review")
    assert b'href="?kind=review&amp;page=2"' in first.content
    second = client_for(sales_user).get("/customers/references/?kind=review&page=2")
    assert b'rel="prev" href="?kind=review&amp;page=1"' in second.content
