"""POST /api/v1/consent-withdrawals/: hard bounces and unsubscribes reported by other tools."""

from datetime import timedelta

import pytest

from nurturing.models import ConsentChange, Enrollment
from nurturing.services import enroll, sequence_activate, sequence_save, step_save
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/consent-withdrawals/"


@pytest.fixture
def api(api_client_for, sales_user):
    return api_client_for(sales_user)


def test_hard_bounce_by_email_ends_enrollments_once(api):
    contact = ContactFactory(email="Anna@Example.com", consent_email=True)
    sequence = sequence_save(name="S")
    step_save(sequence=sequence, kind="wait", wait=timedelta(days=1))
    enroll(sequence=sequence_activate(sequence=sequence), contact_ids=[contact.pk])
    response = api.post(
        URL, {"email": "anna@example.com", "reason": "hard_bounce", "detail": "550"}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"contact": contact.pk, "changed": True}
    contact.refresh_from_db()
    assert not contact.consent_email
    change = ConsentChange.objects.get()
    assert (change.source, change.granted, change.detail) == ("hard_bounce", False, "hard_bounce: 550")
    assert Enrollment.objects.get().exit_reason == "bounced"
    again = api.post(URL, {"contact": contact.pk, "reason": "hard_bounce"}, format="json")
    assert again.json() == {"contact": contact.pk, "changed": False}
    assert ConsentChange.objects.count() == 1


def test_unsubscribe_by_id(api):
    contact = ContactFactory(consent_email=True)
    assert api.post(URL, {"contact": contact.pk, "reason": "unsubscribe"}, format="json").status_code == 200
    assert ConsentChange.objects.get().source == "api"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reason": "hard_bounce"}, "contact"),
        ({"contact": "x", "reason": "hard_bounce"}, "contact"),
        ({"contact": 0, "reason": "hard_bounce"}, "contact"),
        ({"email": "not-an-email", "reason": "hard_bounce"}, "email"),
        ({"email": "a@example.com", "reason": "soft"}, "reason"),
        ({"email": "a@example.com"}, "reason"),
        ({"email": "a@example.com", "reason": "unsubscribe", "detail": "x" * 301}, "detail"),
    ],
)
def test_bad_input_is_400_and_changes_nothing(api, body, field):
    ContactFactory(email="a@example.com", consent_email=True)
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ConsentChange.objects.exists()


def test_unknown_contact_is_404_and_mismatch_is_400(api):
    contact = ContactFactory(email="a@example.com", consent_email=True)
    assert (
        api.post(URL, {"email": "b@example.com", "reason": "unsubscribe"}, format="json").status_code == 404
    )
    assert api.post(URL, {"contact": 10**9, "reason": "unsubscribe"}, format="json").status_code == 404
    mismatch = api.post(
        URL, {"contact": contact.pk, "email": "c@example.com", "reason": "unsubscribe"}, format="json"
    )
    assert mismatch.status_code == 400 and "email" in mismatch.json()
    assert not ConsentChange.objects.exists()


def test_roles(api_client_for, outsider):
    assert api_client_for(None).post(URL, {}, format="json").status_code == 401
    assert api_client_for(outsider).post(URL, {}, format="json").status_code == 403
