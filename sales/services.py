"""Write-side logic of the sales workspace: tasks (create, change, complete, snooze, reassign), the call
task that a threshold crossing creates, and the daily digest email.

Who may change a task: its owner or an admin. Sales and marketing users change only their own tasks;
they may hand one on, but only to an active user with the sales role (admins likewise). Refusals are
``PermissionDenied``; bad values are ``ValidationError``s naming the field.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import groupby

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import roles
from funnel.models import Contact
from notifications.models import Notification
from notifications.services import notifications_create
from sales import selectors
from sales.models import DigestSent, Task
from webhooks import events as webhook_events

logger = logging.getLogger(__name__)

# A snooze further ahead than this is almost certainly a typo in the year.
SNOOZE_MAX = timedelta(days=366)
TITLE_MAX = Task._meta.get_field("title").max_length
NOTE_MAX = Task._meta.get_field("note").max_length
# Lines per section of a digest email; the rest is on the My-day page.
DIGEST_MAX_LINES = 50


def can_change(*, task: Task, user) -> bool:
    """The task's owner or an admin (the rule of every change below)."""
    if not roles.has_any(user, roles.WORK_CONTACTS):
        return False
    return task.owner_id == user.pk or roles.has_any(user, roles.MANAGE_USERS)


# --- Tasks ----------------------------------------------------------------------------------------


@transaction.atomic
def task_create(
    *,
    contact: Contact,
    title: str,
    due_at: datetime,
    owner=None,
    kind: str = Task.Kind.CALL,
    priority: int = Task.Priority.NORMAL,
    note: str = "",
    source: str = Task.Source.MANUAL,
    by,
) -> Task:
    """A task about ``contact`` for ``owner`` (default: the creator). Anyone with a role may create
    tasks for themselves, and for an active sales user (as creating and handing on would); that user
    is notified."""
    if not roles.has_any(by, roles.WORK_CONTACTS):
        raise PermissionDenied(_("Your account has no role in Trichter; ask an administrator."))
    owner = owner or by
    fields = _clean_fields(title=title, due_at=due_at, kind=kind, priority=priority, note=note)
    errors = {}
    if source not in Task.Source.values:
        errors["source"] = [_("Unknown source.")]
    if owner.pk != by.pk and not selectors.is_sales_user(owner):
        errors["owner"] = [_("Tasks can be given only to active sales users.")]
    if errors:
        raise ValidationError(errors)
    task = Task.objects.create(contact=contact, owner=owner, source=source, **fields)
    webhook_events.tasks_created([task])
    if owner.pk != by.pk:
        _notify_assigned(task=task, owner=owner, by=by)
    return task


@transaction.atomic
def task_update(*, task: Task, by, **changes) -> Task:
    """Change a task's ``title``, ``note``, ``due_at``, ``priority``, ``kind`` and ``owner`` (the owner
    through ``task_reassign``, with its rules). Only the owner or an admin; not once it is done."""
    unknown = set(changes) - {"title", "note", "due_at", "priority", "kind", "owner"}
    if unknown:
        raise TypeError(f"task_update() got unexpected fields: {sorted(unknown)}")
    task = _lock(task)
    if not can_change(task=task, user=by):
        raise PermissionDenied(_("Only the task's owner or an admin may change it."))
    _refuse_done(task)
    owner = changes.pop("owner", None)
    merged = {
        name: changes.get(name, getattr(task, name)) for name in ("title", "note", "due_at", "priority")
    }
    merged["kind"] = changes.get("kind", task.kind)
    cleaned = _clean_fields(**merged)
    for name in changes:
        setattr(task, name, cleaned[name])
    if changes:
        task.save(update_fields=list(changes))
    if owner is not None and owner.pk != task.owner_id:
        task = task_reassign(task=task, owner=owner, by=by)
    return task


def task_complete(*, task: Task, by, now: datetime | None = None) -> Task:
    """Mark the task done. Only its owner or an admin may; completing it twice changes nothing (the
    UPDATE is guarded by ``done_at IS NULL``, so the first completion time stays)."""
    if not can_change(task=task, user=by):
        raise PermissionDenied(_("Only the task's owner or an admin may complete it."))
    Task.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=now or timezone.now())
    task.refresh_from_db(fields=["done_at"])
    return task


@transaction.atomic
def task_snooze(*, task: Task, until: datetime, by, now: datetime | None = None) -> Task:
    """Move an open task's due time to ``until``, which must lie in the future (within a year)."""
    now = now or timezone.now()
    task = _lock(task)
    if not can_change(task=task, user=by):
        raise PermissionDenied(_("Only the task's owner or an admin may snooze it."))
    _refuse_done(task)
    if not isinstance(until, datetime) or timezone.is_naive(until):
        raise ValidationError({"until": [_("Give a date and time.")]})
    if until <= now:
        raise ValidationError({"until": [_("Choose a time in the future.")]})
    if until > now + SNOOZE_MAX:
        raise ValidationError({"until": [_("Choose a time within the next year.")]})
    task.due_at = until
    task.save(update_fields=["due_at"])
    return task


@transaction.atomic
def task_reassign(*, task: Task, owner, by) -> Task:
    """Give an open task to another active sales user, who is notified (once per task and user).
    Giving it to its current owner changes nothing."""
    task = _lock(task)
    if not can_change(task=task, user=by):
        raise PermissionDenied(_("Only the task's owner or an admin may reassign it."))
    _refuse_done(task)
    if owner is None or not selectors.is_sales_user(owner):
        raise ValidationError({"owner": [_("Tasks can be given only to active sales users.")]})
    if owner.pk == task.owner_id:
        return task
    task.owner = owner
    task.save(update_fields=["owner"])
    if owner.pk != by.pk:
        _notify_assigned(task=task, owner=owner, by=by)
    return task


def _lock(task: Task) -> Task:
    """The task's row, locked for the rest of the transaction (two changes at once queue up)."""
    return Task.objects.select_for_update(of=("self",)).select_related("contact").get(pk=task.pk)


def _refuse_done(task: Task) -> None:
    if task.done_at is not None:
        raise ValidationError(_("This task is done; it cannot be changed any more."))


def _clean_fields(*, title, due_at, kind, priority, note) -> dict:
    errors: dict[str, list[str]] = {}
    title = (title or "").strip() if isinstance(title, str) else title
    if not isinstance(title, str) or not title:
        errors["title"] = [_("Give the task a title.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("At most %(max)s characters.") % {"max": TITLE_MAX}]
    note = note or ""
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        errors["note"] = [_("At most %(max)s characters.") % {"max": NOTE_MAX}]
    if not isinstance(due_at, datetime) or timezone.is_naive(due_at):
        errors["due_at"] = [_("Give a date and time.")]
    if kind not in Task.Kind.values:
        errors["kind"] = [_("Unknown kind of task.")]
    if priority not in Task.Priority.values:
        errors["priority"] = [_("Unknown priority.")]
    for name, value in (("title", title), ("note", note)):
        if isinstance(value, str) and "\x00" in value and name not in errors:
            errors[name] = [_("Null characters are not allowed.")]
    if errors:
        raise ValidationError(errors)
    return {"title": title, "due_at": due_at, "kind": kind, "priority": int(priority), "note": note}


def _notify_assigned(*, task: Task, owner, by) -> None:
    by_name = by.get_full_name() or by.get_username()
    notifications_create(
        notifications=[
            Notification(
                user_id=owner.pk,
                kind="task_assigned",
                title=_("%(user)s gave you a task: %(title)s") % {"user": by_name, "title": task.title},
                body=_("Due %(due)s.") % {"due": _format_time(task.due_at)},
                contact_id=task.contact_id,
                dedupe_key=f"task-assigned:{task.pk}:{owner.pk}",
            )
        ]
    )


# --- Tasks from threshold crossings ---------------------------------------------------------------


@transaction.atomic
def tasks_from_crossings(
    *, crossings: Iterable[tuple[int, int, int | None]], now: datetime | None = None
) -> int:
    """A call task for each threshold crossing ``(crossing id, contact id, owner id)``: high priority,
    due within the fast lane's response time, for the contact's owner — an unowned contact first gets
    one by the nurturing settings' policy, and that new owner is told.

    Exactly once per crossing: the task's key is ``threshold:<crossing id>``, inserted with ON CONFLICT
    DO NOTHING, so a repeat or a concurrent run adds nothing. A contact that still has an open
    threshold task gets no second one (it crossed again after a dip; the first call is still due).
    Returns the number of tasks written.
    """
    # Imported here: nurturing imports sales.models, and this module is imported by sales' receivers.
    from nurturing.models import NurtureSettings
    from nurturing.services import contacts_assign_owners

    now = now or timezone.now()
    keys = {crossing_id: f"threshold:{crossing_id}" for crossing_id, _contact, _owner in crossings}
    if not keys:
        return 0
    existing = set(Task.objects.filter(dedupe_key__in=keys.values()).values_list("dedupe_key", flat=True))
    pending = [(cid, contact_id) for cid, contact_id, _owner in crossings if keys[cid] not in existing]
    contact_ids = {contact_id for _cid, contact_id in pending}
    busy = set(
        Task.objects.filter(contact_id__in=contact_ids, source=Task.Source.THRESHOLD, done_at__isnull=True)
        .values_list("contact_id", flat=True)
        .distinct()
    )
    contacts = Contact.objects.only("id", "owner_id", "first_name", "last_name", "email").in_bulk(
        contact_ids - busy
    )
    new_owners = contacts_assign_owners(contact_ids=[c for c in contacts if contacts[c].owner_id is None])
    hours = NurtureSettings.load().fast_lane_response_hours
    due_at = now + timedelta(hours=hours)
    tasks, notifications = [], []
    for crossing_id, contact_id in pending:
        contact = contacts.get(contact_id)
        if contact is None or contact_id in busy:  # deleted since, or its call is still open
            continue
        busy.add(contact_id)
        owner_id = contact.owner_id or new_owners.get(contact_id)
        tasks.append(
            Task(
                title=_("Call %(name)s: reached the sales threshold") % {"name": contact},
                contact_id=contact_id,
                owner_id=owner_id,
                kind=Task.Kind.CALL,
                source=Task.Source.THRESHOLD,
                priority=Task.Priority.HIGH,
                due_at=due_at,
                dedupe_key=keys[crossing_id],
            )
        )
        if contact.owner_id is None and owner_id:
            # Scoring told nobody (there was no owner); the same key as its notification: one alert.
            notifications.append(
                Notification(
                    user_id=owner_id,
                    kind="threshold_crossed",
                    title=_("%(name)s reached the sales threshold") % {"name": contact},
                    body=_("The contact is yours now: call within %(hours)s hours.") % {"hours": hours},
                    contact_id=contact_id,
                    dedupe_key=f"threshold:{crossing_id}",
                )
            )
    Task.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
    webhook_events.tasks_created(tasks)
    notifications_create(notifications=notifications)
    return len(tasks)


def threshold_tasks_sweep(*, now: datetime | None = None, within: timedelta = timedelta(days=1)) -> int:
    """Tasks for the last day's crossings that have none: the receiver runs after scoring's commit,
    so a worker dying in between would otherwise leave a crossing without its call."""
    from scoring.models import ThresholdCrossing

    now = now or timezone.now()
    crossings = list(
        ThresholdCrossing.objects.filter(crossed_at__gte=now - within).values_list(
            "id", "contact_id", "owner_id"
        )
    )
    done = set(
        Task.objects.filter(dedupe_key__in=[f"threshold:{c[0]}" for c in crossings]).values_list(
            "dedupe_key", flat=True
        )
    )
    missing = [c for c in crossings if f"threshold:{c[0]}" not in done]
    return tasks_from_crossings(crossings=missing, now=now) if missing else 0


# --- The daily digest -----------------------------------------------------------------------------


def digests_send(*, now: datetime | None = None) -> int:
    """Email every active sales user who has open tasks overdue or due today a plain-text list of them,
    once a day: a ``DigestSent(user, day)`` row is inserted in the transaction that sends, so a second
    run (or worker) skips the user, and a failed send leaves no row and is tried again on the next run.
    Returns the number of emails sent."""
    if not settings.SALES_DIGEST_ENABLED:
        return 0
    now = now or timezone.now()
    day = timezone.localdate(now)
    done = set(DigestSent.objects.filter(day=day).values_list("user_id", flat=True))
    sent = 0
    for _owner_id, group in groupby(selectors.digest_tasks(now=now), key=lambda task: task.owner_id):
        tasks = list(group)
        owner = tasks[0].owner
        if owner.pk in done:
            continue
        try:
            with transaction.atomic():
                DigestSent.objects.create(user=owner, day=day)
                subject, body = digest_message(user=owner, tasks=tasks, now=now)
                send_mail(subject, body, None, [owner.email])
        except IntegrityError:
            continue  # another run sent it meanwhile
        except Exception:  # noqa: BLE001 — one bad address or a mail server hiccup must not stop the rest
            logger.warning("Could not send the task digest to user %s.", owner.pk, exc_info=True)
            continue
        sent += 1
    return sent


def digest_message(*, user, tasks: list[Task], now: datetime) -> tuple[str, str]:
    """Subject and plain-text body of one user's digest."""
    overdue = [t for t in tasks if t.due_at < now]
    today = [t for t in tasks if t.due_at >= now]
    subject = _("Your day: %(overdue)s overdue, %(today)s due today") % {
        "overdue": len(overdue),
        "today": len(today),
    }
    site = settings.SITE_URL.rstrip("/")
    lines = [_("Hello %(name)s,") % {"name": user.get_full_name() or user.get_username()}, ""]
    for heading, section in ((_("Overdue"), overdue), (_("Due today"), today)):
        if not section:
            continue
        lines += [f"{heading} ({len(section)})", ""]
        for task in section[:DIGEST_MAX_LINES]:
            lines.append(
                f"- {_format_time(task.due_at)}  {task.get_kind_display()}: {task.title}"
                f" — {task.contact} ({task.get_priority_display()})"
            )
            lines.append(f"  {site}{reverse('funnel:contact-detail', args=[task.contact_id])}")
        if len(section) > DIGEST_MAX_LINES:
            lines.append(_("… and %(n)s more.") % {"n": len(section) - DIGEST_MAX_LINES})
        lines.append("")
    lines.append(_("Your day in Trichter: %(url)s") % {"url": site + reverse("sales:my-day")})
    return subject, "\n".join(lines) + "\n"


def _format_time(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
