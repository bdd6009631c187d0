"""Read-side queries of the sales workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from accounts import roles
from notifications.models import Notification
from notifications.selectors import notification_list
from sales.models import Task

# Each section of "My day" shows this many rows; the rest is one link away (My tasks, the inbox).
MY_DAY_LIMIT = 50
MY_DAY_ALERTS = 10
CONTACT_TASKS_LIMIT = 20


def open_tasks(*, user) -> QuerySet[Task]:
    """The user's open tasks, the most urgent first: by due time, so the overdue ones lead (the
    partial index on (owner, due_at, id) of open tasks serves exactly this order)."""
    return (
        Task.objects.filter(owner=user, done_at__isnull=True)
        .select_related("contact")
        .order_by("due_at", "id")
    )


def task_queryset() -> QuerySet[Task]:
    """Tasks with what every list shows of them joined in: the contact and the owner."""
    return Task.objects.select_related("contact", "owner").order_by("due_at", "id")


def contact_open_tasks(*, contact_id: int) -> QuerySet[Task]:
    """The contact's open tasks (whoever owns them), the most urgent first."""
    return task_queryset().filter(contact_id=contact_id, done_at__isnull=True)


def sales_users() -> QuerySet:
    """Who may be given a task: active users with the sales role, by name."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=roles.SALES)
        .distinct()
        .order_by("first_name", "last_name", "username", "pk")
    )


def is_sales_user(user) -> bool:
    return bool(user and user.is_active and user.groups.filter(name=roles.SALES).exists())


def end_of_day(now: datetime) -> datetime:
    """The start of tomorrow in the site's time zone (``settings.TIME_ZONE``): "today" ends there."""
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), time.min))


@dataclass
class Section:
    items: list = field(default_factory=list)
    more: bool = False  # there are more than shown


@dataclass
class MyDay:
    overdue: Section
    today: Section
    alerts: Section


def my_day(*, user, now: datetime | None = None) -> MyDay:
    """The user's day: open tasks already overdue, open tasks due later today (in the site's time
    zone), and unread notifications, newest first. Three bounded queries whatever the numbers are."""
    now = now or timezone.now()
    mine = open_tasks(user=user)
    return MyDay(
        overdue=_section(mine.filter(due_at__lt=now), MY_DAY_LIMIT),
        today=_section(mine.filter(due_at__gte=now, due_at__lt=end_of_day(now)), MY_DAY_LIMIT),
        alerts=_section(unread_alerts(user=user), MY_DAY_ALERTS),
    )


def unread_alerts(*, user) -> QuerySet[Notification]:
    return notification_list(user=user).filter(read_at__isnull=True)


def digest_tasks(*, now: datetime) -> QuerySet[Task]:
    """Every open task due before the end of today whose owner is an active sales user with an email
    address, by owner and due time: the daily digest's rows for everyone, in one query."""
    return (
        Task.objects.filter(
            done_at__isnull=True,
            due_at__lt=end_of_day(now),
            owner__is_active=True,
            owner__groups__name=roles.SALES,
        )
        .exclude(owner__email="")
        .select_related("contact", "owner")
        .order_by("owner_id", "due_at", "id")
    )


def _section(queryset, limit: int) -> Section:
    rows = list(queryset[: limit + 1])
    return Section(items=rows[:limit], more=len(rows) > limit)
