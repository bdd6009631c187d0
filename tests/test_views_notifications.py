"""Browser UI: the notification inbox, marking read, and the bell's unread-count fragment."""

from datetime import timedelta
from itertools import count

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications import views
from notifications.models import Notification
from notifications.services import notification_mark_read
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("notifications:list")
BELL_URL = reverse("notifications:bell")
READ_ALL_URL = reverse("notifications:read-all")
HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = "<script>alert(1)</script>"
_keys = count()


def notify(user, *, title="Anna reached the sales threshold", contact=None, read=False, age_minutes=0):
    notification = Notification.objects.create(
        user=user,
        kind="threshold_crossed",
        title=title,
        body="Engagement 55 ≥ 50: the right time to call.",
        contact=contact,
        dedupe_key=f"test:{next(_keys)}",
        read_at=timezone.now() if read else None,
    )
    if age_minutes:
        Notification.objects.filter(pk=notification.pk).update(
            created_at=timezone.now() - timedelta(minutes=age_minutes)
        )
    return notification


@pytest.fixture
def client(client, sales_user):
    client.force_login(sales_user)
    return client


def titles(response) -> list[str]:
    return [n.title for n in response.context["page"].items]


def unread(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


# --- The inbox --------------------------------------------------------------------------------------


def test_list_shows_only_own_notifications_newest_first(client, sales_user, marketing_user):
    contact = ContactFactory(first_name="Anna", last_name="Aust")
    notify(sales_user, title="older", age_minutes=30, read=True)
    newest = notify(sales_user, title="newer", contact=contact)
    notify(marketing_user, title="someone else's")
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert titles(response) == ["newer", "older"]
    html = response.content.decode()
    assert "someone else&#x27;s" not in html and "someone else's" not in html
    assert f'href="{reverse("notifications:open", args=[newest.pk])}"' in html
    assert "Anna Aust" in html
    assert response.context["unread_count"] == 1
    assert "1 unread" in html
    assert "Mark all read" in html


def test_unread_rows_are_highlighted(client, sales_user):
    unread_one = notify(sales_user, title="unread")
    read_one = notify(sales_user, title="read", read=True)
    html = client.get(LIST_URL).content.decode()
    assert f'<tr id="notification-{unread_one.pk}" class="is-new">' in html
    assert f'<tr id="notification-{read_one.pk}">' in html


def test_list_is_paginated(client, sales_user, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    for i in range(7):
        notify(sales_user, title=f"n{i}", age_minutes=100 - i)
    first = client.get(LIST_URL)
    assert titles(first) == ["n6", "n5", "n4", "n3", "n2"]
    assert "?page=2" in first.content.decode()
    second = client.get(LIST_URL, {"page": 2})
    assert titles(second) == ["n1", "n0"]
    fragment = client.get(LIST_URL, {"page": 2}, **HTMX)
    assert "<html" not in fragment.content.decode()
    assert titles(fragment) == ["n1", "n0"]


def test_empty_inbox(client):
    html = client.get(LIST_URL).content.decode()
    assert "No notifications." in html
    assert "Mark all read" not in html


def test_page_past_the_end_and_odd_page_numbers(client, sales_user):
    notify(sales_user)
    assert "past the end" in client.get(LIST_URL, {"page": 5}).content.decode()
    for page in ("x", "-1", "9" * 40):
        assert client.get(LIST_URL, {"page": page}).status_code == 200


# Pinned: session, user, roles, one page of notifications (contact joined), the unread count.
# The bell is loaded by HTMX after the page, so it costs the page nothing.
LIST_QUERIES = 5


@pytest.mark.parametrize("n", [3, 20])
def test_list_query_count_is_constant(client, sales_user, django_assert_num_queries, n):
    for _ in range(n):
        notify(sales_user, contact=ContactFactory())
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST_URL)
    assert len(response.context["page"].items) == n


# --- Opening and marking read -----------------------------------------------------------------------


def test_opening_marks_read_and_goes_to_the_contact(client, sales_user):
    contact = ContactFactory()
    notification = notify(sales_user, contact=contact)
    other = notify(sales_user)
    response = client.get(reverse("notifications:open", args=[notification.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("funnel:contact-detail", args=[contact.pk])
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert unread(sales_user) == 1  # only the opened one
    other_response = client.get(reverse("notifications:open", args=[other.pk]))
    assert other_response["Location"] == LIST_URL  # no contact: back to the inbox


def test_opening_again_keeps_the_first_read_time(client, sales_user):
    notification = notify(sales_user, read=True)
    first = Notification.objects.get(pk=notification.pk).read_at
    client.get(reverse("notifications:open", args=[notification.pk]))
    assert Notification.objects.get(pk=notification.pk).read_at == first


def test_mark_one_read_via_htmx_returns_the_row(client, sales_user):
    notification = notify(sales_user, title="to read")
    response = client.post(reverse("notifications:read", args=[notification.pk]), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert f'<tr id="notification-{notification.pk}">' in html  # no longer highlighted
    assert response["HX-Trigger"] == "notifications-changed"
    assert unread(sales_user) == 0


def test_mark_one_read_without_javascript_redirects_back(client, sales_user):
    notification = notify(sales_user)
    response = client.post(reverse("notifications:read", args=[notification.pk]), {"page": "2"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST_URL}?page=2"
    assert unread(sales_user) == 0


def test_mark_all_read(client, sales_user, marketing_user):
    for _ in range(3):
        notify(sales_user)
    notify(marketing_user)
    response = client.post(READ_ALL_URL)
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert unread(sales_user) == 0
    assert unread(marketing_user) == 1  # others' stay unread
    assert "All notifications marked as read." in client.get(LIST_URL).content.decode()


def test_mark_all_read_via_htmx_returns_the_results(client, sales_user):
    notify(sales_user)
    notify(sales_user)
    response = client.post(READ_ALL_URL, **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="notification-results"' in html
    assert "2 notifications marked as read." in html
    assert "is-new" not in html
    assert response["HX-Trigger"] == "notifications-changed"


@pytest.mark.parametrize("method", ["get", "post"])
def test_mark_read_endpoints_require_post(client, sales_user, method):
    notification = notify(sales_user)
    if method == "get":
        assert client.get(READ_ALL_URL).status_code == 405
        assert client.get(reverse("notifications:read", args=[notification.pk])).status_code == 405
    else:
        assert client.post(reverse("notifications:open", args=[notification.pk])).status_code == 405
    assert unread(sales_user) == 1


def test_mark_read_needs_csrf(sales_user):
    notification = notify(sales_user)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(sales_user)
    assert csrf_client.post(READ_ALL_URL).status_code == 403
    assert csrf_client.post(reverse("notifications:read", args=[notification.pk])).status_code == 403
    assert unread(sales_user) == 1


def test_another_users_notification_is_404_and_stays_unread(client, marketing_user):
    theirs = notify(marketing_user, contact=ContactFactory())
    assert client.get(reverse("notifications:open", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notifications:read", args=[theirs.pk]), **HTMX).status_code == 404
    assert unread(marketing_user) == 1


def test_unknown_notification_is_404(client):
    assert client.get(reverse("notifications:open", args=[999999])).status_code == 404


def test_mark_read_service_is_scoped_to_the_user(sales_user, marketing_user):
    mine = [notify(sales_user) for _ in range(3)]
    theirs = notify(marketing_user)
    assert notification_mark_read(user=sales_user, ids=[]) == 0
    assert notification_mark_read(user=sales_user, ids=[mine[0].pk, theirs.pk]) == 1
    assert notification_mark_read(user=sales_user, ids=[mine[0].pk]) == 0  # already read
    assert notification_mark_read(user=sales_user) == 2
    assert unread(sales_user) == 0
    assert unread(marketing_user) == 1


# --- The bell ---------------------------------------------------------------------------------------


def test_bell_shows_the_unread_count(client, sales_user, marketing_user):
    notify(sales_user)
    notify(sales_user)
    notify(sales_user, read=True)
    notify(marketing_user)
    response = client.get(BELL_URL, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert '<span class="badge badge-red">2</span>' in html
    assert "2 unread notifications" in html
    assert response["Cache-Control"] == "no-store"


def test_bell_is_empty_without_unread(client, sales_user):
    notify(sales_user, read=True)
    assert client.get(BELL_URL, **HTMX).content.decode().strip() == ""


def test_bell_caps_at_99(client, sales_user):
    Notification.objects.bulk_create(
        [Notification(user=sales_user, kind="k", title="t", dedupe_key=f"bulk:{i}") for i in range(120)]
    )
    assert ">99+<" in client.get(BELL_URL, **HTMX).content.decode()


def test_bell_query_count(client, sales_user, django_assert_num_queries):
    notify(sales_user)
    # session, user, roles, the COUNT
    with django_assert_num_queries(4):
        client.get(BELL_URL, **HTMX)


def test_pages_carry_the_polling_bell(client):
    html = client.get(reverse("funnel:contact-list")).content.decode()
    assert f'href="{LIST_URL}"' in html
    assert f'hx-get="{BELL_URL}"' in html
    assert 'hx-trigger="load, every 30s, notifications-changed from:body"' in html


def test_outsiders_see_no_bell(outsider):
    client = Client()
    client.force_login(outsider)
    html = client.get(reverse("account-settings")).content.decode()
    assert BELL_URL not in html


def test_anonymous_bell_poll_swaps_nothing():
    response = Client().get(BELL_URL, **HTMX)
    assert response.status_code == 204
    assert response.content == b""


# --- Roles ------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "notifications:list", False),
    ("get", "notifications:bell", False),
    ("get", "notifications:open", True),
    ("post", "notifications:read", True),
    ("post", "notifications:read-all", False),
]


def _url(name, with_pk, pk):
    return reverse(name, args=[pk]) if with_pk else reverse(name)


@pytest.mark.parametrize(("method", "name", "with_pk"), ENDPOINTS)
def test_anonymous_is_sent_to_login(sales_user, method, name, with_pk):
    notification = notify(sales_user)
    response = getattr(Client(), method)(_url(name, with_pk, notification.pk))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert unread(sales_user) == 1


@pytest.mark.parametrize(("method", "name", "with_pk"), ENDPOINTS)
def test_outsider_gets_403(outsider, method, name, with_pk):
    notification = notify(outsider)  # even their own: without a role there is no inbox
    client = Client()
    client.force_login(outsider)
    response = getattr(client, method)(_url(name, with_pk, notification.pk))
    assert response.status_code == 403
    assert unread(outsider) == 1


@pytest.mark.parametrize("role_user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_has_an_inbox(request, role_user):
    user = request.getfixturevalue(role_user)
    notify(user, title=f"for {user.username}")
    client = Client()
    client.force_login(user)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert titles(response) == [f"for {user.username}"]
    assert client.get(BELL_URL, **HTMX).status_code == 200


def test_superuser_has_an_inbox():
    user = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(LIST_URL).status_code == 200


# --- Escaping ---------------------------------------------------------------------------------------


def test_notification_text_is_escaped(client, sales_user):
    notify(sales_user, title=XSS, contact=ContactFactory(first_name=XSS, last_name=""))
    Notification.objects.filter(user=sales_user).update(body=XSS)
    for response in (client.get(LIST_URL), client.get(LIST_URL, **HTMX)):
        html = response.content.decode()
        assert XSS not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
