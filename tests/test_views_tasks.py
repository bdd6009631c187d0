"""Browser UI of the sales workspace: "My tasks" (the user's open tasks, the most urgent first) and
its "done" button, which goes through sales.services.task_complete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from sales.models import Task
from sales.services import task_complete
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("sales:task-list")
HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("x")</script>'


def make_task(owner, *, hours=24, title="Call back", **fields) -> Task:
    return Task.objects.create(
        title=title,
        contact=fields.pop("contact", None) or ContactFactory(),
        owner=owner,
        due_at=timezone.now() + timedelta(hours=hours),
        **fields,
    )


def done_url(task) -> str:
    return reverse("sales:task-done", args=[task.pk])


# --- Access --------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, sales_user):
    task = make_task(sales_user)
    response = client.get(LIST_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.post(done_url(task)).status_code == 302
    assert Task.objects.get().done_at is None


def test_outsiders_get_403(client_for, outsider):
    task = make_task(outsider)
    client = client_for(outsider)
    assert client.get(LIST_URL).status_code == 403
    assert client.post(done_url(task)).status_code == 403
    assert Task.objects.get().done_at is None


@pytest.mark.parametrize("user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_has_a_task_list(request, client_for, user):
    assert client_for(request.getfixturevalue(user)).get(LIST_URL).status_code == 200


def test_done_needs_post(client_for, sales_user):
    task = make_task(sales_user)
    assert client_for(sales_user).get(done_url(task)).status_code == 405


@pytest.mark.parametrize(
    "url", ["/tasks/abc/done/", "/tasks/99999999999999999999999/done/", "/tasks/424242/done/"]
)
def test_bad_ids_are_404(client_for, sales_user, url):
    assert client_for(sales_user).post(url).status_code == 404


# --- The list ------------------------------------------------------------------------------------


def test_only_my_open_tasks_overdue_first(client_for, sales_user):
    later = make_task(sales_user, hours=48, title="Later")
    overdue = make_task(sales_user, hours=-5, title="Overdue", source="fast_lane", priority=3)
    soon = make_task(sales_user, hours=2, title="Soon")
    make_task(sales_user, hours=-1, title="Finished", done_at=timezone.now())
    make_task(UserFactory(username="other", roles=["sales"]), title="Not mine")
    make_task(None, title="Nobody's")

    response = client_for(sales_user).get(LIST_URL)
    assert [t.pk for t in response.context["page"].items] == [overdue.pk, soon.pk, later.pk]
    page = response.content.decode()
    assert "Not mine" not in page
    assert "Finished" not in page
    assert "overdue" in page
    assert page.count(">overdue<") == 1
    assert "Fast lane" in page
    assert "High" in page
    assert reverse("funnel:contact-detail", args=[overdue.contact_id]) in page


def test_empty_state(client_for, sales_user):
    page = client_for(sales_user).get(LIST_URL).content.decode()
    assert "No open tasks." in page


def test_titles_are_escaped(client_for, sales_user):
    make_task(sales_user, title=XSS, note=XSS)
    page = client_for(sales_user).get(LIST_URL).content.decode()
    assert XSS not in page
    assert "&lt;script&gt;" in page


def test_pagination(client_for, sales_user):
    for i in range(55):
        make_task(sales_user, hours=i + 1, title=f"T{i}")
    client = client_for(sales_user)
    response = client.get(LIST_URL, {"page": 2})
    assert [t.title for t in response.context["page"].items] == [f"T{i}" for i in range(50, 55)]
    assert "51–55 of 55 open tasks" in response.content.decode()
    # HTMX: only the results section; bad page numbers fall back to page 1.
    page = client.get(LIST_URL, {"page": "x"}, **HTMX).content.decode()
    assert page.startswith('<section id="task-results"')
    assert client.get(LIST_URL, {"page": "999"}).status_code == 200


# Pinned: session, user, roles, one page of tasks with their contacts. No COUNT on a single page.
LIST_QUERIES = 4


@pytest.mark.parametrize("n", [2, 20])
def test_list_query_count_is_constant(client_for, sales_user, django_assert_num_queries, n):
    for i in range(n):
        make_task(sales_user, hours=i)
    client = client_for(sales_user)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST_URL)
    assert len(response.context["page"].items) == n


# --- Done ----------------------------------------------------------------------------------------


def test_done_with_htmx_swaps_the_row(client_for, sales_user):
    task = make_task(sales_user)
    response = client_for(sales_user).post(done_url(task), **HTMX)
    page = response.content.decode()
    assert page.startswith(f'<tr id="task-{task.pk}"')
    assert ">done<" in page
    task.refresh_from_db()
    assert task.done_at is not None


def test_done_without_htmx_goes_back_to_the_page(client_for, sales_user):
    task = make_task(sales_user)
    response = client_for(sales_user).post(done_url(task), {"page": "3"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST_URL}?page=3"
    response = client_for(sales_user).post(done_url(task), {"page": "../evil"})
    assert response["Location"] == LIST_URL


def test_another_reps_task_is_404(client_for, sales_user):
    task = make_task(UserFactory(username="other", roles=["sales"]))
    assert client_for(sales_user).post(done_url(task), **HTMX).status_code == 404
    assert Task.objects.get().done_at is None


def test_admin_may_complete_anyones_task(client_for, admin_user, sales_user):
    task = make_task(sales_user)
    assert client_for(admin_user).post(done_url(task), **HTMX).status_code == 200
    assert Task.objects.get().done_at is not None


def test_task_complete_service(sales_user, marketing_user, admin_user):
    task = make_task(sales_user)
    with pytest.raises(PermissionDenied):
        task_complete(task=task, by=marketing_user)
    assert Task.objects.get().done_at is None
    first = task_complete(task=task, by=sales_user).done_at
    assert first is not None
    # Twice: nothing changes.
    assert task_complete(task=task, by=admin_user, now=timezone.now() + timedelta(days=1)).done_at == first


def test_nav_link(client_for, sales_user):
    page = client_for(sales_user).get(LIST_URL).content.decode()
    assert f'href="{LIST_URL}" aria-current="page"' in page
