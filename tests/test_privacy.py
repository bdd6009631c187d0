"""GDPR: the personal-data export, erasure and the consent log (privacy app), UI and API."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Reference
from customers.references import reference_create
from funnel.models import Contact, StageTransition
from funnel.services import contact_move_stage, contact_set_tags
from notifications.models import Notification
from nurturing import services as nurturing_services
from nurturing.models import ConsentChange, Enrollment, OutboundEmail, StepRun
from offers import services as offer_services
from offers.models import Offer
from privacy import selectors
from privacy.models import ErasureRecord
from privacy.services import contact_erase, email_hash
from sales.models import Task
from sales.services import task_create
from scoring.ingest import events_ingest
from scoring.models import ContactTopic, Event
from scoring.services import events_apply_pending
from tests.factories import CompanyFactory, ContactFactory, stage

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"


def export_url(contact_id: int) -> str:
    return reverse("privacy:contact-export", args=[contact_id])


def erase_url(contact_id: int) -> str:
    return reverse("privacy:contact-erase", args=[contact_id])


def api_data_url(contact_id: int) -> str:
    return f"/api/v1/contacts/{contact_id}/personal-data/"


def api_erase_url(contact_id: int) -> str:
    return f"/api/v1/contacts/{contact_id}/erase/"


def add_events(contact, n: int, *, prefix: str = "ev", anonymous_id: str = "") -> None:
    now = timezone.now()
    payload = [
        {
            "id": f"{prefix}-{contact.pk}-{i}",
            "type": "download",
            "contact": contact.pk,
            "topic": "pcb-design",
            "properties": {"file": f"datasheet-{i}.pdf", "ip": "192.0.2.1"},
            "occurred_at": (now - timedelta(minutes=i + 1)).isoformat(),
            **({"anonymous_id": anonymous_id} if anonymous_id else {}),
        }
        for i in range(n)
    ]
    events_ingest(payload=payload)
    events_apply_pending()


@pytest.fixture
def rich_contact(admin_user, sales_user):
    """A contact with data in funnel, scoring, nurturing, sales, offers, customers, notifications."""
    company = CompanyFactory(name="Platinen AG")
    contact = ContactFactory(
        email="Erika.Muster@Example.com",
        first_name="Erika",
        last_name="Muster",
        phone="+49 30 123",
        company=company,
        consent_email=True,
    )
    contact_set_tags(contact=contact, tags=["vip"])
    contact_move_stage(contact=contact, stage=stage("lead"), by=sales_user, reason="called back")
    add_events(contact, 3, anonymous_id="cookie-erika")

    sequence = nurturing_services.sequence_save(name="Onboarding")
    enrollment = Enrollment.objects.create(
        sequence=sequence, contact=contact, entered_at=timezone.now(), last_error="mail to erika failed"
    )
    StepRun.objects.create(
        enrollment=enrollment,
        tick=0,
        kind="email",
        detail="sent to erika.muster@example.com",
        ran_at=timezone.now(),
    )
    for key, state in (("k-sent", OutboundEmail.State.SENT), ("k-queued", OutboundEmail.State.QUEUED)):
        OutboundEmail.objects.create(
            key=key,
            enrollment=enrollment,
            contact=contact,
            to=contact.email,
            subject="Hallo Erika",
            body_text="Liebe Erika, …",
            state=state,
            next_attempt_at=timezone.now(),
            sent_at=timezone.now() if state == OutboundEmail.State.SENT else None,
        )
    nurturing_services.consent_withdraw(contact_id=contact.pk, source=ConsentChange.Source.UNSUBSCRIBE_LINK)

    task_create(
        contact=contact,
        title="Call Erika",
        due_at=timezone.now(),
        owner=sales_user,
        note="likes PCBs",
        by=sales_user,
    )
    product = offer_services.product_save(name="PCB layout", topics=["pcb-design"], price=Decimal("1000.00"))
    offer_services.offer_create(contact=contact, title="Layout offer", items=[(product, 2, None)])
    reference_create(
        contact=contact, kind=Reference.Kind.TESTIMONIAL, date=timezone.localdate(), note="Great"
    )
    Notification.objects.create(
        user=sales_user, kind="test", title="Erika is hot", contact=contact, dedupe_key=f"t:{contact.pk}"
    )
    contact.refresh_from_db()
    return contact


# --- Export ----------------------------------------------------------------------------------------


def test_export_holds_data_from_every_app(rich_contact):
    data = selectors.contact_data(rich_contact)
    json.dumps(data)  # serialisable as it is
    assert data["contact"]["email"] == "Erika.Muster@Example.com"
    assert data["contact"]["phone"] == "+49 30 123"
    assert data["company"]["name"] == "Platinen AG"
    assert data["tags"] == ["vip"]
    assert [t["to_stage"] for t in data["stage_history"]] == ["suspect", "lead"]
    assert data["stage_history"][1]["reason"] == "called back"
    # Three downloads, and the event the reference records.
    assert sorted(e["type"] for e in data["events"]) == ["download"] * 3 + ["reference_given"]
    assert data["events"][0]["properties"]["ip"] == "192.0.2.1"
    assert data["scores"]["topics"][0]["topic"] == "pcb-design"
    assert data["enrollments"][0]["sequence"] == "Onboarding"
    assert data["enrollments"][0]["step_runs"][0]["kind"] == "email"
    assert {e["subject"] for e in data["emails"]} == {"Hallo Erika"}
    assert data["consent_changes"][0]["source"] == "unsubscribe_link"
    assert data["consent_changes"][0]["granted"] is False
    assert data["tasks"][0]["title"] == "Call Erika"
    assert data["offers"][0]["items"] == [{"product": "PCB layout", "quantity": 2, "unit_price": "1000.00"}]
    assert data["references"][0]["note"] == "Great"
    assert data["notifications"][0]["title"] == "Erika is hot"


def test_export_query_count_does_not_grow_with_the_data(sales_user, django_assert_num_queries):
    one, five = ContactFactory(), ContactFactory()
    add_events(one, 1)
    add_events(five, 5)
    for contact in (one, five):
        task_create(contact=contact, title="Call", due_at=timezone.now(), by=sales_user)
    task_create(contact=five, title="Call again", due_at=timezone.now(), by=sales_user)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        selectors.contact_data(one)
    with django_assert_num_queries(len(first.captured_queries)):
        data = selectors.contact_data(five)
    assert len(data["events"]) == 5
    assert len(first.captured_queries) <= 25


def test_admin_downloads_the_json(client_for, admin_user, rich_contact):
    response = client_for(admin_user).get(export_url(rich_contact.pk))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    assert json.loads(response.content)["contact"]["last_name"] == "Muster"


@pytest.mark.parametrize("who", ["sales_user", "marketing_user", "outsider"])
def test_other_roles_may_not_export_or_erase(request, client_for, who):
    contact = ContactFactory()
    client = client_for(request.getfixturevalue(who))
    assert client.get(export_url(contact.pk)).status_code == 403
    assert client.get(erase_url(contact.pk)).status_code == 403
    assert client.post(erase_url(contact.pk), {"confirm": "ERASE"}).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_anonymous_is_sent_to_login(client):
    contact = ContactFactory()
    for url in (export_url(contact.pk), erase_url(contact.pk)):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("login") in response["Location"]


def test_api_export(api_client_for, admin_user, rich_contact):
    response = api_client_for(admin_user).get(api_data_url(rich_contact.pk))
    assert response.status_code == 200
    assert response.json()["contact"]["email"] == "Erika.Muster@Example.com"
    assert api_client_for(admin_user).get(api_data_url(999_999)).status_code == 404


@pytest.mark.parametrize("who", ["sales_user", "marketing_user", "outsider"])
def test_api_refuses_other_roles(request, api_client_for, who):
    contact = ContactFactory()
    api = api_client_for(request.getfixturevalue(who))
    assert api.get(api_data_url(contact.pk)).status_code == 403
    assert api.post(api_erase_url(contact.pk), {}, format="json").status_code == 403
    assert api.get(api_data_url(999_999)).status_code == 403  # no probing for ids
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_api_without_token_is_401(api_client_for):
    contact = ContactFactory()
    assert api_client_for(None).get(api_data_url(contact.pk)).status_code == 401
    assert api_client_for(None).post(api_erase_url(contact.pk), {}, format="json").status_code == 401


# --- Erasure ----------------------------------------------------------------------------------------


def test_erase_deletes_personal_data_and_keeps_counts(rich_contact, admin_user):
    pk = rich_contact.pk
    event_ids = set(Event.objects.filter(contact_id=pk).values_list("id", flat=True))
    offer = Offer.objects.get(contact_id=pk)
    # An event of the same visitor cookie not yet attached to the contact.
    events_ingest(payload={"id": "later-anon", "type": "page_view", "anonymous_id": "cookie-erika"})

    record = contact_erase(contact=rich_contact, by=admin_user, reason="request by email")

    assert not Contact.objects.filter(pk=pk).exists()
    assert not StageTransition.objects.filter(contact_id=pk).exists()
    assert not ConsentChange.objects.filter(contact_id=pk).exists()
    assert not Task.objects.filter(contact_id=pk).exists()
    assert not ContactTopic.objects.filter(contact_id=pk).exists()
    assert not Notification.objects.filter(title="Erika is hot").exists()
    # Events stay, counted, but belong to nobody and say nothing about anybody.
    kept = Event.objects.filter(id__in=event_ids)
    assert kept.count() == 4
    assert set(kept.values_list("contact_id", "anonymous_id")) == {(None, "")}
    assert all(p == {} for p in kept.values_list("properties", flat=True))
    assert not Event.objects.filter(anonymous_id="cookie-erika").exists()
    # Emails stay for the sequence's counts, blanked; the queued one is never sent.
    emails = OutboundEmail.objects.filter(key__in=["k-sent", "k-queued"])
    assert emails.count() == 2
    assert set(emails.values_list("to", "subject", "body_text", "contact_id")) == {("", "", "", None)}
    assert emails.get(key="k-queued").state == OutboundEmail.State.SUPPRESSED
    enrollment = Enrollment.objects.get()
    assert enrollment.contact_id is None and enrollment.last_error == ""
    assert enrollment.state == Enrollment.State.EXITED
    assert StepRun.objects.get().detail == ""
    offer.refresh_from_db()
    assert offer.contact_id is None

    assert record.contact_id == pk
    assert record.email_hash == hashlib.sha256(b"erika.muster@example.com").hexdigest()
    assert record.email_hash == email_hash(" ERIKA.MUSTER@example.com ")
    assert record.by == admin_user
    assert record.reason == "request by email"
    assert record.counts["events_anonymised"] == 5
    assert record.counts["emails_anonymised"] == 2
    assert record.counts["emails_suppressed"] == 1
    assert record.counts["offers_detached"] == 1
    assert record.counts["deleted:funnel.Contact"] == 1
    assert record.counts["deleted:funnel.StageTransition"] == 2
    assert "Erika" not in json.dumps(record.counts)
    assert ErasureRecord.objects.count() == 1


def test_erase_twice_raises_does_not_exist(admin_user):
    contact = ContactFactory()
    contact_erase(contact=contact, by=admin_user)
    with pytest.raises(Contact.DoesNotExist):
        contact_erase(contact=contact, by=admin_user)
    assert ErasureRecord.objects.count() == 1


def test_ui_erase_needs_the_email_or_erase_typed(client_for, admin_user):
    contact = ContactFactory(email="typed@example.com")
    client = client_for(admin_user)
    assert client.get(erase_url(contact.pk)).status_code == 200
    response = client.post(erase_url(contact.pk), {"confirm": "yes"})
    assert response.status_code == 400
    assert Contact.objects.filter(pk=contact.pk).exists()

    response = client.post(erase_url(contact.pk), {"confirm": "TYPED@example.com", "reason": "asked"})
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert ErasureRecord.objects.get().reason == "asked"
    assert client.post(erase_url(contact.pk), {"confirm": "ERASE"}).status_code == 404


def test_ui_erase_with_the_word(client_for, admin_user):
    contact = ContactFactory(email=None)
    response = client_for(admin_user).post(erase_url(contact.pk), {"confirm": "ERASE"})
    assert response.status_code == 302
    assert ErasureRecord.objects.get().email_hash == ""


def test_api_erase(api_client_for, admin_user, rich_contact):
    api = api_client_for(admin_user)
    response = api.post(api_erase_url(rich_contact.pk), {"reason": "Art. 17 request"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["contact_id"] == rich_contact.pk
    assert body["reason"] == "Art. 17 request"
    assert body["by"] == admin_user.pk
    assert body["email_hash"] == email_hash(rich_contact.email)
    assert body["counts"]["events_anonymised"] == 4
    # The second time the contact is gone: 404, never a 500.
    assert api.post(api_erase_url(rich_contact.pk), {"reason": "again"}, format="json").status_code == 404
    assert api.get(api_data_url(rich_contact.pk)).status_code == 404


def test_api_erase_reason_is_optional(api_client_for, admin_user):
    contact = ContactFactory()
    response = api_client_for(admin_user).post(api_erase_url(contact.pk), {}, format="json")
    assert response.status_code == 200
    assert response.json()["reason"] == ""


@pytest.mark.parametrize(
    "body",
    [{"reason": "x" * 1001}, {"reason": None}, {"reason": ["a"]}, ["reason"]],
)
def test_api_erase_bad_input_is_400_and_erases_nothing(api_client_for, admin_user, body):
    contact = ContactFactory()
    response = api_client_for(admin_user).post(api_erase_url(contact.pk), body, format="json")
    assert response.status_code == 400
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert not ErasureRecord.objects.exists()


def test_api_erase_unknown_id_is_404(api_client_for, admin_user):
    assert api_client_for(admin_user).post(api_erase_url(999_999), {}, format="json").status_code == 404


# --- The contact page -------------------------------------------------------------------------------


def test_consent_log_is_shown_to_every_role_buttons_only_to_admins(client_for, sales_user, admin_user):
    contact = ContactFactory(consent_email=True)
    nurturing_services.consent_withdraw(
        contact_id=contact.pk, source=ConsentChange.Source.HARD_BOUNCE, detail="550 mailbox unknown"
    )
    page = reverse("funnel:contact-detail", args=[contact.pk])

    html = client_for(sales_user).get(page).content.decode()
    assert 'id="contact-privacy"' in html
    assert "550 mailbox unknown" in html
    assert "Hard bounce" in html
    assert export_url(contact.pk) not in html
    assert erase_url(contact.pk) not in html

    html = client_for(admin_user).get(page).content.decode()
    assert export_url(contact.pk) in html
    assert erase_url(contact.pk) in html


def test_consent_log_is_newest_first_and_bounded(client_for, sales_user):
    contact = ContactFactory()
    now = timezone.now()
    ConsentChange.objects.bulk_create(
        ConsentChange(
            contact=contact,
            granted=bool(i % 2),
            source="user",
            detail=f"change-{i:02d}",
            at=now - timedelta(hours=i),
        )
        for i in range(selectors.CONSENT_LOG_LIMIT + 5)
    )
    html = client_for(sales_user).get(reverse("funnel:contact-detail", args=[contact.pk])).content.decode()
    assert html.index("change-00") < html.index("change-01")
    assert f"change-{selectors.CONSENT_LOG_LIMIT - 1:02d}" in html
    assert f"change-{selectors.CONSENT_LOG_LIMIT:02d}" not in html


def test_script_name_is_escaped_on_the_page_and_intact_in_the_json(client_for, admin_user):
    contact = ContactFactory(first_name=XSS, last_name="")
    ConsentChange.objects.create(contact=contact, granted=True, source="user", detail=XSS, at=timezone.now())
    client = client_for(admin_user)
    for url in (reverse("funnel:contact-detail", args=[contact.pk]), erase_url(contact.pk)):
        html = client.get(url).content.decode()
        assert XSS not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    data = json.loads(client.get(export_url(contact.pk)).content)
    assert data["contact"]["first_name"] == XSS
    assert data["consent_changes"][0]["detail"] == XSS
