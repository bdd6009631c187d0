"""Browser UI of "My day" (overdue tasks, tasks due today, new alerts) with its HTMX actions complete,
snooze and reassign, and the contact page's task section with its "new task" form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from sales.models import Task
from sales.selectors import MY_DAY_ALERTS, MY_DAY_LIMIT
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

MY_DAY = reverse("sales:my-day")
HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("x")</script>'


@pytest.fixture
def rep2(db):
    return UserFactory(username="rep2", first_name="Rita", last_name="Zweite", roles=["sales"])


def make_task(owner, *, minutes=60, title="Call back", **fields) -> Task:
    return Task.objects.create(
        title=title,
        contact=fields.pop("contact", None) or ContactFactory(),
        owner=owner,
        due_at=timezone.now() + timedelta(minutes=minutes),
        **fields,
    )


def notify(user, title="Hot lead", **fields) -> Notification:
    return Notification.objects.create(
        user=user, kind="threshold_crossed", title=title, dedupe_key=f"t:{title}:{user.pk}", **fields
    )


def url(name, task_or_pk) -> str:
    return reverse(f"sales:task-{name}", args=[getattr(task_or_pk, "pk", task_or_pk)])


@pytest.fixture
def morning(monkeypatch, settings):
    """It is 10:00 UTC today (the site in UTC): "later today" is noon."""
    settings.TIME_ZONE = "UTC"
    ten = timezone.now().astimezone(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: ten)
    return ten


def midday():
    return timezone.now().replace(hour=12)


# --- Access --------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, sales_user, rep2):
    task = make_task(sales_user)
    response = client.get(MY_DAY)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    for name, data in (("done", {}), ("snooze", {"preset": "hour"}), ("reassign", {"owner": rep2.pk})):
        response = client.post(url(name, task), data)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client.get(reverse("sales:contact-tasks", args=[task.contact_id])).status_code == 302
    assert client.post(reverse("sales:contact-task-create", args=[task.contact_id]), {}).status_code == 302
    assert Task.objects.get().owner == sales_user
    assert Task.objects.get().done_at is None


def test_outsiders_get_403(client_for, outsider, rep2):
    task = make_task(outsider)
    client = client_for(outsider)
    assert client.get(MY_DAY).status_code == 403
    assert client.post(url("done", task)).status_code == 403
    assert client.post(url("snooze", task), {"preset": "hour"}).status_code == 403
    assert client.post(url("reassign", task), {"owner": rep2.pk}).status_code == 403
    assert client.get(reverse("sales:contact-tasks", args=[task.contact_id])).status_code == 403
    create = reverse("sales:contact-task-create", args=[task.contact_id])
    assert client.post(create, {"title": "x", "kind": "call", "priority": "2"}).status_code == 403
    assert Task.objects.count() == 1


@pytest.mark.parametrize("user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_has_a_day(request, client_for, user):
    response = client_for(request.getfixturevalue(user)).get(MY_DAY)
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("name", ["done", "snooze", "reassign"])
def test_actions_need_post(client_for, sales_user, name):
    assert client_for(sales_user).get(url(name, make_task(sales_user))).status_code == 405


def test_my_day_needs_get(client_for, sales_user):
    assert client_for(sales_user).post(MY_DAY).status_code == 405


@pytest.mark.parametrize("name", ["done", "snooze", "reassign"])
@pytest.mark.parametrize("pk", ["abc", "-1", "99999999999999999999999", "424242"])
def test_bad_task_ids_are_404(client_for, sales_user, name, pk):
    response = client_for(sales_user).post(f"/tasks/{pk}/{name}/", {"preset": "hour"})
    assert response.status_code == 404


@pytest.mark.parametrize("pk", ["abc", "99999999999999999999999", "424242"])
def test_bad_contact_ids_are_404(client_for, sales_user, pk):
    client = client_for(sales_user)
    assert client.get(f"/tasks/contacts/{pk}/").status_code == 404
    assert client.post(f"/tasks/contacts/{pk}/new/", {"title": "x"}).status_code == 404


# --- The page ------------------------------------------------------------------------------------


def test_sections(client_for, sales_user, rep2, morning):
    overdue_old = make_task(sales_user, minutes=-3000, title="Overdue old", source="fast_lane", priority=3)
    overdue = make_task(sales_user, minutes=-5, title="Overdue recent", source="threshold")
    today = Task.objects.create(
        title="Later today", contact=ContactFactory(first_name="Tina"), owner=sales_user, due_at=midday()
    )
    make_task(sales_user, minutes=60 * 30, title="Day after")
    make_task(sales_user, minutes=-5, title="Finished", done_at=timezone.now())
    make_task(rep2, minutes=-5, title="Not mine")
    old = notify(sales_user, "Older alert")
    new = notify(sales_user, "Newer alert")
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))
    notify(sales_user, "Read alert", read_at=timezone.now())
    notify(rep2, "Rita's alert")

    response = client_for(sales_user).get(MY_DAY)
    day = response.context["day"]
    assert [t.pk for t in day.overdue.items] == [overdue_old.pk, overdue.pk]
    assert [t.pk for t in day.today.items] == [today.pk]
    assert [n.pk for n in day.alerts.items] == [new.pk, old.pk]
    page = response.content.decode()
    for absent in ("Day after", "Finished", "Not mine", "Read alert", "Rita&#x27;s alert"):
        assert absent not in page
    assert "Fast lane" in page and "Threshold" in page and "High" in page
    assert reverse("funnel:contact-detail", args=[overdue.contact_id]) in page
    assert reverse("notifications:open", args=[new.pk]) in page
    assert reverse("notifications:list") in page
    assert "Nothing overdue" not in page


def test_today_ends_at_midnight_in_the_sites_time_zone(client_for, sales_user, monkeypatch):
    now = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)  # 22:00 in Berlin
    monkeypatch.setattr(timezone, "now", lambda: now)
    berlin_today = make_task(sales_user, minutes=90, title="22:30 UTC = 23:30 Berlin")
    berlin_tomorrow = make_task(sales_user, minutes=150, title="23:30 UTC = 00:30 Berlin")
    with override_settings(TIME_ZONE="Europe/Berlin"):
        day = client_for(sales_user).get(MY_DAY).context["day"]
    assert [t.pk for t in day.today.items] == [berlin_today.pk]
    assert berlin_tomorrow.pk not in [t.pk for t in day.overdue.items + day.today.items]
    with override_settings(TIME_ZONE="UTC"):
        day = client_for(sales_user).get(MY_DAY).context["day"]
    assert [t.pk for t in day.today.items] == [berlin_today.pk, berlin_tomorrow.pk]


def test_empty_states(client_for, sales_user):
    page = client_for(sales_user).get(MY_DAY).content.decode()
    assert "Nothing overdue — well done." in page
    assert "Nothing else due today." in page
    assert "No new alerts." in page


def test_sections_are_capped_with_links_on(client_for, sales_user):
    Task.objects.bulk_create(
        [
            Task(
                title=f"T{i}",
                contact=ContactFactory(),
                owner=sales_user,
                due_at=timezone.now() - timedelta(minutes=i + 1),
            )
            for i in range(MY_DAY_LIMIT + 1)
        ]
    )
    for i in range(MY_DAY_ALERTS + 1):
        notify(sales_user, f"A{i}")
    response = client_for(sales_user).get(MY_DAY)
    day = response.context["day"]
    assert (len(day.overdue.items), day.overdue.more) == (MY_DAY_LIMIT, True)
    assert (len(day.alerts.items), day.alerts.more) == (MY_DAY_ALERTS, True)
    page = response.content.decode()
    assert "More overdue tasks" in page
    assert "More alerts in the inbox" in page


def test_titles_and_alerts_are_escaped(client_for, sales_user):
    make_task(sales_user, minutes=-5, title=XSS, note=XSS, contact=ContactFactory(first_name=XSS))
    notify(sales_user, XSS, body=XSS)
    page = client_for(sales_user).get(MY_DAY).content.decode()
    assert XSS not in page
    assert "&lt;script&gt;" in page


def test_htmx_gets_only_the_sections(client_for, sales_user):
    response = client_for(sales_user).get(MY_DAY, **HTMX)
    assert response.content.decode().startswith('<div id="my-day"')
    assert "HX-Request" in response["Vary"]


def test_reassign_offers_other_sales_users_only(client_for, sales_user, rep2, marketing_user):
    make_task(sales_user, minutes=-5)
    page = client_for(sales_user).get(MY_DAY).content.decode()
    assert f'<option value="{rep2.pk}">Rita Zweite</option>' in page
    assert f'<option value="{sales_user.pk}">' not in page
    assert f'<option value="{marketing_user.pk}">' not in page


# Pinned: session, user, roles, overdue tasks, today's tasks, unread alerts, the sales users.
MY_DAY_QUERIES = 7


@pytest.mark.parametrize("n", [2, 20])
def test_query_count_is_constant(client_for, sales_user, rep2, morning, django_assert_num_queries, n):
    for i in range(n):
        make_task(sales_user, minutes=-i - 1, title=f"Old {i}")
        Task.objects.create(title=f"Today {i}", contact=ContactFactory(), owner=sales_user, due_at=midday())
        notify(sales_user, f"Alert {i}", contact=ContactFactory())
    client = client_for(sales_user)
    with django_assert_num_queries(MY_DAY_QUERIES):
        response = client.get(MY_DAY)
    day = response.context["day"]
    assert (len(day.overdue.items), len(day.today.items), len(day.alerts.items)) == (
        n,
        n,
        min(n, MY_DAY_ALERTS),
    )


def test_nav_puts_my_day_first_for_sales(client_for, sales_user, marketing_user):
    page = client_for(sales_user).get(MY_DAY).content.decode()
    nav = page[page.index('class="mainnav"') :]
    funnel = f'href="{reverse("funnel:table")}"'
    assert nav.index(f'href="{MY_DAY}"') < nav.index(funnel)
    assert f'href="{MY_DAY}" aria-current="page"' in page
    assert f'href="{reverse("sales:task-list")}" aria-current' not in page
    page = client_for(marketing_user).get(reverse("funnel:table")).content.decode()
    nav = page[page.index('class="mainnav"') :]
    assert nav.index(funnel) < nav.index(f'href="{MY_DAY}"')


def test_in_german(client_for, sales_user):
    page = client_for(sales_user).get(MY_DAY, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Mein Tag" in page
    assert "Nichts überfällig – gut gemacht." in page
    assert "Keine neuen Benachrichtigungen." in page


# --- Complete ------------------------------------------------------------------------------------


def test_complete_with_htmx_answers_with_the_day(client_for, sales_user):
    task = make_task(sales_user, minutes=-5, title="Anrufen")
    response = client_for(sales_user).post(url("done", task), {"from": "my-day"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notifications-changed"
    page = response.content.decode()
    assert page.startswith('<div id="my-day"')
    assert "Task “Anrufen” done." in page
    assert "Nothing overdue" in page
    assert Task.objects.get().done_at is not None


def test_complete_without_htmx_redirects_back(client_for, sales_user):
    task = make_task(sales_user)
    response = client_for(sales_user).post(url("done", task), {"from": "my-day"})
    assert response.status_code == 302
    assert response["Location"] == MY_DAY


def test_complete_others_task_is_404_but_admin_may(client_for, sales_user, rep2, admin_user):
    task = make_task(rep2)
    assert client_for(sales_user).post(url("done", task), {"from": "my-day"}, **HTMX).status_code == 404
    assert Task.objects.get().done_at is None
    assert client_for(admin_user).post(url("done", task), {"from": "my-day"}, **HTMX).status_code == 200
    assert Task.objects.get().done_at is not None


# --- Snooze --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("hour", lambda now: now + timedelta(hours=1)),
        ("week", lambda now: now + timedelta(weeks=1)),
        (
            "tomorrow",
            lambda now: (
                timezone.make_aware(
                    datetime.combine(timezone.localdate(now) + timedelta(days=1), datetime.min.time())
                )
                + timedelta(hours=9)
            ),
        ),
    ],
)
def test_snooze_presets(client_for, sales_user, monkeypatch, preset, expected):
    now = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    task = make_task(sales_user, minutes=-5)
    with override_settings(TIME_ZONE="Europe/Berlin"):
        response = client_for(sales_user).post(
            url("snooze", task), {"from": "my-day", "preset": preset}, **HTMX
        )
        assert response.status_code == 200
        assert response["HX-Trigger"] == "notifications-changed"
        assert Task.objects.get().due_at == expected(now)
    if preset == "tomorrow":
        assert Task.objects.get().due_at == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert "snoozed until" in response.content.decode()


def test_snooze_to_a_chosen_time(client_for, sales_user):
    task = make_task(sales_user, minutes=-5)
    until = timezone.localtime(timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    data = {"preset": "custom", "until": until.strftime("%Y-%m-%dT%H:%M")}
    response = client_for(sales_user).post(url("snooze", task), data)
    assert response.status_code == 302
    assert response["Location"] == MY_DAY
    assert Task.objects.get().due_at == until


@pytest.mark.parametrize(
    "data, message",
    [
        ({"preset": "custom", "until": "2001-01-01T09:00"}, "Choose a time in the future."),
        ({"until": "2001-01-01T09:00"}, "Choose a time in the future."),
        ({"preset": "custom", "until": "3001-01-01T09:00"}, "within the next year"),
        ({"preset": "custom"}, "Give a date and time."),
        ({}, "Give a date and time."),
        ({"preset": "custom", "until": "morgen"}, "Enter a valid date/time."),
        ({"preset": "custom", "until": "99999-01-01T09:00"}, "Enter a valid date/time."),
        ({"preset": "someday"}, "Select a valid choice."),
    ],
)
def test_bad_snoozes_change_nothing(client_for, sales_user, data, message):
    task = make_task(sales_user, minutes=-5, title="Anrufen")
    before = Task.objects.get().due_at
    client = client_for(sales_user)
    response = client.post(url("snooze", task), {"from": "my-day", **data}, **HTMX)
    assert response.status_code == 200  # HTMX swaps only 2xx: the error shows in the section
    assert message in response.content.decode()
    assert "“Anrufen”" in response.content.decode()
    response = client.post(url("snooze", task), {"from": "my-day", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Task.objects.get().due_at == before


def test_snooze_others_task_is_404(client_for, sales_user, rep2, marketing_user):
    task = make_task(rep2)
    for user in (sales_user, marketing_user):
        assert client_for(user).post(url("snooze", task), {"preset": "hour"}).status_code == 404


def test_snoozing_a_done_task_is_refused(client_for, sales_user):
    task = make_task(sales_user, done_at=timezone.now())
    response = client_for(sales_user).post(url("snooze", task), {"preset": "hour"}, **HTMX)
    assert "This task is done" in response.content.decode()


# --- Reassign ------------------------------------------------------------------------------------


def test_reassign_to_another_rep(client_for, sales_user, rep2):
    task = make_task(sales_user, minutes=-5, title="Angebot")
    response = client_for(sales_user).post(
        url("reassign", task), {"from": "my-day", "owner": rep2.pk}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notifications-changed"
    assert "Task “Angebot” given to Rita Zweite." in response.content.decode()
    assert Task.objects.get().owner == rep2
    assert Notification.objects.get().dedupe_key == f"task-assigned:{task.pk}:{rep2.pk}"
    # It left my day.
    assert "Angebot</strong>" not in response.content.decode()


@pytest.mark.parametrize("owner", ["", "abc", "424242", "99999999999999999999999", "-1", "marketing", "gone"])
def test_bad_owners_are_400(client_for, sales_user, marketing_user, owner):
    gone = UserFactory(username="gone", roles=["sales"], is_active=False)
    value = {"marketing": marketing_user.pk, "gone": gone.pk}.get(owner, owner)
    task = make_task(sales_user)
    client = client_for(sales_user)
    response = client.post(url("reassign", task), {"owner": value})
    assert response.status_code == 400
    response = client.post(url("reassign", task), {"owner": value}, **HTMX)
    assert response.status_code == 200
    assert 'class="alert alert-error"' in response.content.decode()
    assert Task.objects.get().owner == sales_user
    assert Notification.objects.count() == 0


def test_reassign_role_rules(client_for, sales_user, rep2, marketing_user, admin_user):
    others = make_task(rep2)
    # Sales and marketing: only their own tasks (another's is not found at all).
    assert client_for(sales_user).post(url("reassign", others), {"owner": sales_user.pk}).status_code == 404
    assert (
        client_for(marketing_user).post(url("reassign", others), {"owner": sales_user.pk}).status_code == 404
    )
    assert Task.objects.get(pk=others.pk).owner == rep2
    own = make_task(marketing_user)
    assert client_for(marketing_user).post(url("reassign", own), {"owner": rep2.pk}).status_code == 302
    assert Task.objects.get(pk=own.pk).owner == rep2
    # Admins: any task.
    assert client_for(admin_user).post(url("reassign", others), {"owner": sales_user.pk}).status_code == 302
    assert Task.objects.get(pk=others.pk).owner == sales_user


# --- The contact page's section ------------------------------------------------------------------


def test_contact_page_loads_the_section(client_for, sales_user):
    contact = ContactFactory()
    page = client_for(sales_user).get(reverse("funnel:contact-detail", args=[contact.pk])).content.decode()
    assert f'hx-get="{reverse("sales:contact-tasks", args=[contact.pk])}"' in page


def test_contact_section_lists_open_tasks_of_everyone(client_for, sales_user, rep2):
    contact = ContactFactory()
    mine = make_task(sales_user, contact=contact, title="Mine")
    theirs = make_task(rep2, contact=contact, title="Rita's task")
    make_task(sales_user, contact=contact, title="Finished", done_at=timezone.now())
    make_task(sales_user, title="Other contact")
    client = client_for(sales_user)
    response = client.get(reverse("sales:contact-tasks", args=[contact.pk]), **HTMX)
    page = response.content.decode()
    assert page.startswith('<section id="contact-tasks"')
    assert [t.pk for t in response.context["tasks"]] == [mine.pk, theirs.pk]
    assert "Finished" not in page and "Other contact" not in page
    assert "Rita Zweite" in page
    # "Done" only on my own task.
    assert url("done", mine) in page
    assert url("done", theirs) not in page
    # Without HTMX: a page of its own.
    page = client.get(reverse("sales:contact-tasks", args=[contact.pk])).content.decode()
    assert "<html" in page and 'id="contact-tasks"' in page


def test_new_task_on_the_contact_page(client_for, marketing_user):
    contact = ContactFactory()
    due = timezone.localtime(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    data = {"title": "Rückruf", "kind": "email", "due_at": due.strftime("%Y-%m-%dT%H:%M"), "priority": "3"}
    response = client_for(marketing_user).post(
        reverse("sales:contact-task-create", args=[contact.pk]), data, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notifications-changed"
    assert "Task “Rückruf” added." in response.content.decode()
    task = Task.objects.get()
    assert (task.contact, task.owner, task.kind, task.priority, task.due_at, task.source) == (
        contact,
        marketing_user,
        "email",
        3,
        due,
        "manual",
    )
    response = client_for(marketing_user).post(reverse("sales:contact-task-create", args=[contact.pk]), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("funnel:contact-detail", args=[contact.pk]) + "#contact-tasks"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"kind": "lunch"}, "kind"),
        ({"priority": "9"}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"due_at": ""}, "due_at"),
        ({"due_at": "31.02.2026"}, "due_at"),
    ],
)
def test_bad_new_tasks_store_nothing(client_for, sales_user, change, field):
    contact = ContactFactory()
    data = {"title": "Call", "kind": "call", "due_at": "2030-01-01T09:00", "priority": "2", **change}
    create = reverse("sales:contact-task-create", args=[contact.pk])
    client = client_for(sales_user)
    response = client.post(create, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    response = client.post(create, data, **HTMX)
    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert Task.objects.count() == 0


def test_complete_from_the_contact_section(client_for, sales_user):
    task = make_task(sales_user, title="Anrufen")
    response = client_for(sales_user).post(url("done", task), {"from": "contact"}, **HTMX)
    page = response.content.decode()
    assert page.startswith('<section id="contact-tasks"')
    assert "No open tasks for this contact." in page
    response = client_for(sales_user).post(url("done", make_task(sales_user)), {"from": "contact"})
    assert response["Location"].endswith("#contact-tasks")


def test_my_tasks_list_keeps_working(client_for, sales_user):
    task = make_task(sales_user)
    response = client_for(sales_user).post(url("done", task), **HTMX)
    assert response.content.decode().startswith(f'<tr id="task-{task.pk}"')
