import pytest
from django.urls import reverse

from funnel.models import Contact
from tests.factories import ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _form_data(contact, **overrides):
    data = {
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": "",
        "job_title": "",
        "company": "",
        "stage": contact.stage_id,
        "owner": "",
        "consent_email": "",
        "properties": "{}",
        "transitions-TOTAL_FORMS": "0",
        "transitions-INITIAL_FORMS": "0",
        "transitions-MIN_NUM_FORMS": "0",
        "transitions-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_stage_change_in_admin_goes_through_the_service(client, superuser):
    contact = ContactFactory()
    client.force_login(superuser)
    url = reverse("admin:funnel_contact_change", args=[contact.pk])
    response = client.post(url, _form_data(contact, stage=stage("prospect").pk))
    assert response.status_code == 302, response.content[:2000]
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    last = contact.transitions.last()
    assert (last.from_stage.key, last.to_stage.key, last.by) == ("suspect", "prospect", superuser)


def test_contact_added_in_admin_gets_entry_transition(client, superuser):
    client.force_login(superuser)
    data = _form_data(Contact(email="admin-added@example.com", stage=stage("lead")))
    response = client.post(reverse("admin:funnel_contact_add"), data)
    assert response.status_code == 302, response.content[:2000]
    contact = Contact.objects.get(email="admin-added@example.com")
    entry = contact.transitions.get()
    assert (entry.from_stage, entry.to_stage.key) == (None, "lead")
