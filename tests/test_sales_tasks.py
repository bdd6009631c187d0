"""sales.services: creating, changing, completing, snoozing and reassigning tasks (with the role rules),
the call task of a threshold crossing (exactly once, set-based, with owner assignment), and the daily
digest email (once per user and day, with frozen time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery import app
from notifications.models import Notification
from nurturing.models import NurtureSettings
from sales import selectors, services
from sales.models import DigestSent, Task
from sales.receivers import on_threshold_crossed
from sales.tasks import send_daily_digests
from scoring.ingest import events_ingest
from scoring.models import EngagementRule, EventType, ThresholdCrossing
from scoring.services import events_apply_pending
from scoring.signals import threshold_crossed
from tests.factories import ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def rep2(db):
    return UserFactory(username="rep2", first_name="Rita", last_name="Zweite", roles=["sales"])


def make_task(owner, *, hours=24, title="Call back", now=None, **fields) -> Task:
    return Task.objects.create(
        title=title,
        contact=fields.pop("contact", None) or ContactFactory(),
        owner=owner,
        due_at=(now or timezone.now()) + timedelta(hours=hours),
        **fields,
    )


def later(hours=24):
    return timezone.now() + timedelta(hours=hours)


# --- task_create ----------------------------------------------------------------------------------


def test_create_defaults_to_the_creator(marketing_user):
    contact = ContactFactory()
    task = services.task_create(
        contact=contact, title="  Send the brochure ", due_at=later(), by=marketing_user
    )
    assert (task.owner, task.title, task.kind, task.priority, task.source, task.note) == (
        marketing_user,
        "Send the brochure",
        "call",
        Task.Priority.NORMAL,
        "manual",
        "",
    )
    assert task.dedupe_key is None
    assert Notification.objects.count() == 0  # nobody to tell: it is the creator's own


def test_create_for_a_sales_user_notifies_them(marketing_user, sales_user):
    task = services.task_create(
        contact=ContactFactory(),
        title="Offer",
        due_at=later(),
        owner=sales_user,
        kind="offer",
        priority=Task.Priority.HIGH,
        note="bis Freitag",
        by=marketing_user,
    )
    note = Notification.objects.get()
    assert (note.user, note.kind, note.contact_id) == (sales_user, "task_assigned", task.contact_id)
    assert note.dedupe_key == f"task-assigned:{task.pk}:{sales_user.pk}"
    assert "Offer" in note.title


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"note": "n" * 4001}, "note"),
        ({"kind": "lunch"}, "kind"),
        ({"priority": 7}, "priority"),
        ({"source": "magic"}, "source"),
        ({"due_at": datetime(2026, 5, 1, 9, 0)}, "due_at"),  # naive
        ({"due_at": "tomorrow"}, "due_at"),
    ],
)
def test_create_refuses_bad_values(sales_user, fields, field):
    values = {"contact": ContactFactory(), "title": "Call", "due_at": later(), "by": sales_user, **fields}
    with pytest.raises(ValidationError) as exc:
        services.task_create(**values)
    assert field in exc.value.message_dict
    assert Task.objects.count() == 0


def test_create_for_others_only_for_active_sales_users(sales_user, marketing_user, admin_user):
    inactive = UserFactory(username="gone", roles=["sales"], is_active=False)
    for owner in (marketing_user, admin_user, inactive):
        with pytest.raises(ValidationError) as exc:
            services.task_create(
                contact=ContactFactory(), title="Call", due_at=later(), owner=owner, by=sales_user
            )
        assert "owner" in exc.value.message_dict
    assert Task.objects.count() == 0


def test_outsiders_create_nothing(outsider):
    with pytest.raises(PermissionDenied):
        services.task_create(contact=ContactFactory(), title="Call", due_at=later(), by=outsider)


# --- task_complete (kept) -------------------------------------------------------------------------


def test_complete_by_owner_or_admin_once(sales_user, marketing_user, admin_user):
    task = make_task(sales_user)
    with pytest.raises(PermissionDenied):
        services.task_complete(task=task, by=marketing_user)
    first = services.task_complete(task=task, by=admin_user, now=NOW).done_at
    assert first == NOW
    assert services.task_complete(task=task, by=sales_user).done_at == NOW


# --- task_snooze ----------------------------------------------------------------------------------


def test_snooze_moves_the_due_time(sales_user):
    task = make_task(sales_user, hours=-3)
    until = later(5)
    assert services.task_snooze(task=task, until=until, by=sales_user).due_at == until
    assert Task.objects.get().due_at == until


@pytest.mark.parametrize(
    "delta, message",
    [(timedelta(0), "future"), (timedelta(minutes=-1), "future"), (timedelta(days=367), "within")],
)
def test_snooze_needs_a_future_time_within_a_year(sales_user, delta, message):
    task = make_task(sales_user)
    before = Task.objects.get().due_at
    with pytest.raises(ValidationError) as exc:
        services.task_snooze(task=task, until=NOW + delta, by=sales_user, now=NOW)
    assert message in exc.value.message_dict["until"][0]
    assert Task.objects.get().due_at == before


def test_snooze_refuses_naive_times(sales_user):
    with pytest.raises(ValidationError):
        services.task_snooze(task=make_task(sales_user), until=datetime(2030, 1, 1), by=sales_user)


def test_only_owner_or_admin_snoozes(sales_user, rep2, marketing_user, admin_user, outsider):
    task = make_task(sales_user)
    for user in (rep2, marketing_user, outsider):
        with pytest.raises(PermissionDenied):
            services.task_snooze(task=task, until=later(2), by=user)
    assert services.task_snooze(task=task, until=later(3), by=admin_user).due_at == Task.objects.get().due_at


def test_done_tasks_are_not_snoozed_or_reassigned(sales_user, rep2):
    task = make_task(sales_user, done_at=timezone.now())
    with pytest.raises(ValidationError, match="done"):
        services.task_snooze(task=task, until=later(), by=sales_user)
    with pytest.raises(ValidationError, match="done"):
        services.task_reassign(task=task, owner=rep2, by=sales_user)
    with pytest.raises(ValidationError, match="done"):
        services.task_update(task=task, title="New", by=sales_user)
    assert Task.objects.get().owner == sales_user


# --- task_reassign --------------------------------------------------------------------------------


def test_sales_rep_hands_own_task_to_another_rep(sales_user, rep2):
    task = make_task(sales_user, title="Demo vorbereiten")
    services.task_reassign(task=task, owner=rep2, by=sales_user)
    assert Task.objects.get().owner == rep2
    note = Notification.objects.get()
    assert (note.user, note.kind, note.dedupe_key) == (
        rep2,
        "task_assigned",
        f"task-assigned:{task.pk}:{rep2.pk}",
    )
    assert note.title == "sales gave you a task: Demo vorbereiten"
    # Back and forth: one notification per task and user, never a second.
    services.task_reassign(task=task, owner=sales_user, by=rep2)
    services.task_reassign(task=task, owner=rep2, by=sales_user)
    assert Notification.objects.filter(user=rep2).count() == 1
    assert Notification.objects.filter(user=sales_user).count() == 1


def test_reassign_role_rules(sales_user, rep2, marketing_user, admin_user):
    mine = make_task(marketing_user)
    services.task_reassign(task=mine, owner=rep2, by=marketing_user)  # marketing: own tasks
    assert Task.objects.get(pk=mine.pk).owner == rep2

    others = make_task(sales_user)
    for user in (marketing_user, rep2):
        with pytest.raises(PermissionDenied):
            services.task_reassign(task=others, owner=rep2, by=user)
    assert Task.objects.get(pk=others.pk).owner == sales_user
    services.task_reassign(task=others, owner=rep2, by=admin_user)  # admin: any
    assert Task.objects.get(pk=others.pk).owner == rep2

    unowned = make_task(None)
    with pytest.raises(PermissionDenied):
        services.task_reassign(task=unowned, owner=rep2, by=rep2)
    services.task_reassign(task=unowned, owner=rep2, by=admin_user)
    assert Task.objects.get(pk=unowned.pk).owner == rep2


def test_reassign_only_to_active_sales_users(sales_user, marketing_user, admin_user):
    task = make_task(sales_user)
    inactive = UserFactory(username="gone", roles=["sales"], is_active=False)
    for owner in (marketing_user, admin_user, inactive, UserFactory(username="nobody"), None):
        with pytest.raises(ValidationError) as exc:
            services.task_reassign(task=task, owner=owner, by=sales_user)
        assert "owner" in exc.value.message_dict
    assert Task.objects.get().owner == sales_user


def test_reassign_to_the_current_owner_changes_nothing(sales_user):
    task = make_task(sales_user)
    services.task_reassign(task=task, owner=sales_user, by=sales_user)
    assert Notification.objects.count() == 0


# --- task_update ----------------------------------------------------------------------------------


def test_update_fields_and_owner(sales_user, rep2):
    task = make_task(sales_user)
    due = later(48)
    task = services.task_update(
        task=task, by=sales_user, title="Neu", note="n", due_at=due, priority=3, kind="meeting", owner=rep2
    )
    stored = Task.objects.get()
    assert (stored.title, stored.note, stored.due_at, stored.priority, stored.kind, stored.owner) == (
        "Neu",
        "n",
        due,
        3,
        "meeting",
        rep2,
    )
    assert Notification.objects.filter(user=rep2).count() == 1


def test_refused_owner_change_keeps_the_other_changes_out(sales_user, marketing_user):
    task = make_task(sales_user, title="Alt")
    with pytest.raises(ValidationError):
        services.task_update(task=task, by=sales_user, title="Neu", owner=marketing_user)
    assert Task.objects.get().title == "Alt"


def test_update_by_others_is_refused(sales_user, rep2):
    with pytest.raises(PermissionDenied):
        services.task_update(task=make_task(sales_user), by=rep2, title="Mine now")


# --- Tasks from threshold crossings ---------------------------------------------------------------


def service_call_worth(points: int) -> None:
    EngagementRule.objects.filter(event_type__key="service_call").update(active=False)
    EngagementRule.objects.create(
        name="test service_call", event_type=EventType.objects.get(key="service_call"), points=points
    )


def cross_threshold(contact, event_id: str, capture) -> None:
    with capture(execute=True):
        events_ingest(payload={"id": event_id, "type": "service_call", "contact": contact.pk})
        events_apply_pending()


def test_crossing_creates_one_call_task_for_the_owner(sales_user, django_capture_on_commit_callbacks):
    NurtureSettings.objects.update_or_create(pk=1, defaults={"fast_lane_response_hours": 6})
    contact = ContactFactory(stage=stage("lead"), owner=sales_user, first_name="Hanna", last_name="Huber")
    service_call_worth(60)
    before = timezone.now()
    cross_threshold(contact, "e1", django_capture_on_commit_callbacks)
    crossing = ThresholdCrossing.objects.get()
    task = Task.objects.get()
    assert (task.owner, task.contact, task.kind, task.source, task.priority) == (
        sales_user,
        contact,
        "call",
        "threshold",
        Task.Priority.HIGH,
    )
    assert task.dedupe_key == f"threshold:{crossing.pk}"
    assert task.title == "Call Hanna Huber: reached the sales threshold"
    assert before + timedelta(hours=6) <= task.due_at <= timezone.now() + timedelta(hours=6)
    # Scoring's notification only (the owner was known): no second one.
    assert Notification.objects.filter(user=sales_user).count() == 1
    # Still above the threshold: no new crossing, no new task. The signal again: nothing new either.
    cross_threshold(contact, "e2", django_capture_on_commit_callbacks)
    threshold_crossed.send(sender=ThresholdCrossing, crossings=[(crossing.pk, contact.pk, sales_user.pk)])
    assert Task.objects.count() == 1


def test_unowned_contact_gets_an_owner_first(sales_user, rep2, django_capture_on_commit_callbacks):
    contact = ContactFactory(stage=stage("lead"))
    service_call_worth(60)
    cross_threshold(contact, "e1", django_capture_on_commit_callbacks)
    contact.refresh_from_db()
    assert contact.owner in (sales_user, rep2)  # round-robin among sales users
    task = Task.objects.get()
    assert task.owner == contact.owner
    # Scoring told nobody (no owner then); the new owner hears of it once, under scoring's key.
    note = Notification.objects.get()
    assert (note.user, note.kind) == (contact.owner, "threshold_crossed")
    assert note.dedupe_key == f"threshold:{ThresholdCrossing.objects.get().pk}"


def test_unowned_contact_with_a_default_owner(rep2, sales_user):
    NurtureSettings.objects.update_or_create(
        pk=1, defaults={"unowned_assignment": NurtureSettings.Assignment.DEFAULT_OWNER, "default_owner": rep2}
    )
    contact = ContactFactory()
    crossing = ThresholdCrossing.objects.create(contact=contact, engagement=60, threshold=50)
    assert services.tasks_from_crossings(crossings=[(crossing.pk, contact.pk, None)]) == 1
    assert Task.objects.get().owner == rep2
    assert services.tasks_from_crossings(crossings=[(crossing.pk, contact.pk, None)]) == 0
    assert Task.objects.count() == 1
    assert Notification.objects.count() == 1


def test_no_sales_user_at_all_leaves_the_task_unowned():
    contact = ContactFactory()
    crossing = ThresholdCrossing.objects.create(contact=contact, engagement=60, threshold=50)
    services.tasks_from_crossings(crossings=[(crossing.pk, contact.pk, None)])
    assert Task.objects.get().owner is None
    assert Notification.objects.count() == 0


def test_deleted_contacts_are_skipped(sales_user):
    contact = ContactFactory(owner=sales_user)
    crossing = ThresholdCrossing.objects.create(contact=contact, engagement=60, threshold=50)
    crossings = [(crossing.pk, contact.pk, sales_user.pk)]
    contact.delete()
    assert services.tasks_from_crossings(crossings=crossings) == 0


def test_one_open_threshold_task_per_contact(sales_user):
    contact = ContactFactory(owner=sales_user)
    first, second, third = ThresholdCrossing.objects.bulk_create(
        [ThresholdCrossing(contact=contact, engagement=60, threshold=50, owner=sales_user) for _ in range(3)]
    )
    # Two crossings in one batch: one task.
    rows = [(c.pk, contact.pk, sales_user.pk) for c in (first, second)]
    assert services.tasks_from_crossings(crossings=rows) == 1
    # Crossed again after a dip while the call is still open: no second task.
    assert services.tasks_from_crossings(crossings=[(third.pk, contact.pk, sales_user.pk)]) == 0
    # Once the call is done, a new crossing is a new call.
    Task.objects.update(done_at=timezone.now())
    assert services.tasks_from_crossings(crossings=[(third.pk, contact.pk, sales_user.pk)]) == 1
    assert Task.objects.count() == 2


def crossings_for(n, owner):
    contacts = ContactFactory.create_batch(n, owner=owner)
    rows = ThresholdCrossing.objects.bulk_create(
        [ThresholdCrossing(contact=c, engagement=60, threshold=50, owner=owner) for c in contacts]
    )
    return [(r.pk, r.contact_id, owner.pk) for r in rows]


def test_many_crossings_cost_the_same_queries(sales_user):
    NurtureSettings.load()
    few, many = crossings_for(3, sales_user), crossings_for(60, sales_user)
    with CaptureQueriesContext(connection) as small:
        services.tasks_from_crossings(crossings=few)
    with CaptureQueriesContext(connection) as large:
        assert services.tasks_from_crossings(crossings=many) == 60
    assert len(large) == len(small)
    assert Task.objects.filter(source="threshold").count() == 63
    # Exactly once, also for a mix of done and new ones.
    assert services.tasks_from_crossings(crossings=few + many) == 0
    assert Task.objects.count() == 63


def test_receiver_is_connected_and_a_failure_does_not_propagate(monkeypatch, sales_user, caplog):
    assert any(r[1]() is on_threshold_crossed for r in threshold_crossed.receivers)

    def boom(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "tasks_from_crossings", boom)
    threshold_crossed.send(sender=ThresholdCrossing, crossings=[(1, 2, None)])
    assert "Could not create the call tasks" in caplog.text


# --- The daily digest -----------------------------------------------------------------------------


@pytest.fixture
def digest_tasks(sales_user, rep2, marketing_user):
    contact = ContactFactory(first_name="Karl", last_name="Kunde")
    make_task(sales_user, hours=-30, title="Overdue call", contact=contact, now=NOW)
    make_task(sales_user, hours=3, title="Today's offer", kind="offer", contact=contact, now=NOW)
    make_task(sales_user, hours=20, title="Tomorrow's", now=NOW)
    make_task(sales_user, hours=-2, title="Finished", done_at=NOW, now=NOW)
    make_task(rep2, hours=1, title="Rita's", now=NOW)
    make_task(marketing_user, hours=1, title="Marketing's", now=NOW)
    UserFactory(username="idle", roles=["sales"])  # nothing due: no mail


def test_digest_goes_once_a_day_to_sales_users_with_tasks_due(sales_user, rep2, digest_tasks):
    assert services.digests_send(now=NOW) == 2
    by_user = {m.to[0]: m for m in mail.outbox}
    assert set(by_user) == {sales_user.email, rep2.email}
    message = by_user[sales_user.email]
    assert message.subject == "Your day: 1 overdue, 1 due today"
    assert "Overdue call" in message.body
    assert "Today's offer" in message.body
    assert "Karl Kunde" in message.body
    assert "Tomorrow's" not in message.body
    assert "Finished" not in message.body
    assert "Rita's" not in message.body
    assert f"{settings.SITE_URL}/my-day/" in message.body
    assert (
        f"{settings.SITE_URL}/contacts/{Task.objects.get(title='Overdue call').contact_id}/" in message.body
    )
    assert not message.alternatives  # plain text
    # Again the same day (a second beat, a redelivery): nothing.
    assert services.digests_send(now=NOW + timedelta(hours=5)) == 0
    assert len(mail.outbox) == 2
    assert DigestSent.objects.count() == 2
    # The next day: again.
    assert services.digests_send(now=NOW + timedelta(days=1)) == 2
    assert len(mail.outbox) == 4


def test_digest_task_runs_the_service(sales_user, digest_tasks, monkeypatch):
    assert "sales.tasks.send_daily_digests" in app.tasks
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    assert send_daily_digests() == 2
    assert send_daily_digests() == 0


def test_digest_can_be_turned_off(digest_tasks):
    with override_settings(SALES_DIGEST_ENABLED=False):
        assert services.digests_send(now=NOW) == 0
    assert mail.outbox == []


def test_a_failed_send_is_tried_again(sales_user, rep2, digest_tasks, monkeypatch):
    real = services.send_mail

    def flaky(subject, body, sender, to):
        if to == [sales_user.email]:
            raise OSError("mail server down")
        return real(subject, body, sender, to)

    monkeypatch.setattr(services, "send_mail", flaky)
    assert services.digests_send(now=NOW) == 1
    assert list(DigestSent.objects.values_list("user", flat=True)) == [rep2.pk]
    monkeypatch.setattr(services, "send_mail", real)
    assert services.digests_send(now=NOW + timedelta(hours=1)) == 1
    assert [m.to for m in mail.outbox] == [[rep2.email], [sales_user.email]]


def test_users_without_email_or_inactive_get_none(sales_user, rep2):
    sales_user.email = ""
    sales_user.save()
    rep2.is_active = False
    rep2.save()
    make_task(sales_user, hours=1, now=NOW)
    make_task(rep2, hours=1, now=NOW)
    assert services.digests_send(now=NOW) == 0


def test_digest_day_follows_the_time_zone(sales_user):
    # 23:30 UTC on 10 March is 00:30 on 11 March in Berlin: "today" is the 11th there.
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    make_task(sales_user, hours=20, title="Berlin today", now=late)  # 20:30 Berlin on the 11th
    with override_settings(TIME_ZONE="Europe/Berlin"):
        assert selectors.end_of_day(late) == datetime(2026, 3, 11, 23, 0, tzinfo=UTC)
        assert services.digests_send(now=late) == 1
        assert DigestSent.objects.get().day.isoformat() == "2026-03-11"
    assert "Berlin today" in mail.outbox[0].body


# --- Demo data ------------------------------------------------------------------------------------


def test_demo_tasks_fill_every_section_once(sales_user):
    from sales.demo import MANUAL, load_demo_tasks

    contacts = ContactFactory.create_batch(3, owner=sales_user)
    ThresholdCrossing.objects.create(contact=contacts[0], engagement=60, threshold=50, owner=sales_user)
    ThresholdCrossing.objects.create(
        contact=contacts[1], engagement=60, threshold=50, crossed_at=timezone.now() - timedelta(days=60)
    )
    first = load_demo_tasks()
    assert (first.threshold_tasks, first.manual_tasks) == (1, len(MANUAL))
    again = load_demo_tasks()
    assert (again.threshold_tasks, again.manual_tasks) == (0, 0)
    day = selectors.my_day(user=sales_user)
    assert day.overdue.items and (day.today.items or timezone.localtime().hour >= 21)


def test_the_sweep_creates_missing_threshold_tasks_once():
    from sales.services import threshold_tasks_sweep
    from scoring.models import ThresholdCrossing

    rep = UserFactory(username="sweeper", roles=["sales"])
    contact = ContactFactory(owner=rep)
    crossing = ThresholdCrossing.objects.create(
        contact=contact, crossed_at=timezone.now(), engagement=60, threshold=50, owner_id=rep.pk
    )
    assert threshold_tasks_sweep() == 1  # the receiver never ran for it
    assert threshold_tasks_sweep() == 0
    task = Task.objects.get(dedupe_key=f"threshold:{crossing.pk}")
    assert (task.owner, task.source) == (rep, "threshold")
