"""A contact, company, owner and task named `<script>alert(1)</script>` stay inert on every page that
shows them: escaped in HTML, never executed. (Each page has its own escaping tests; this sweep keeps
a new page from forgetting.)"""

import pytest

from analytics.fold import fold_pending
from funnel.services import contact_move_stage
from sales.models import Task
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

EVIL = "<script>alert(1)</script>"


@pytest.fixture
def evil_world(admin_user):
    owner = UserFactory(username="evil-owner", first_name=EVIL, roles=["sales"])
    company = CompanyFactory(name=EVIL, industry=EVIL)
    contact = ContactFactory(first_name=EVIL, last_name=EVIL, company=company, owner=owner, job_title=EVIL)
    contact_move_stage(contact=contact, stage=stage("lead"), by=admin_user, reason=EVIL)
    Task.objects.create(contact=contact, owner=admin_user, title=EVIL, note=EVIL, due_at=contact.created_at)
    fold_pending()
    return contact


def test_no_page_carries_the_script(client_for, admin_user, evil_world):
    contact = evil_world
    pages = [
        "/",
        "/contacts/",
        f"/contacts/?search={contact.last_name}",
        f"/contacts/{contact.pk}/",
        "/companies/",
        f"/companies/{contact.company_id}/",
        "/my-day/",
        "/tasks/",
        "/analytics/?period=custom&since=2020-01-01&until=2030-12-31&dimension=industry",
        "/analytics/?period=custom&since=2020-01-01&until=2030-12-31&dimension=owner",
        "/users/",
        "/audit/",
    ]
    client = client_for(admin_user)
    shown = 0
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert EVIL not in html, url
        shown += "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert shown >= 9  # the pages did show the names, escaped (not a sweep over empty pages)
