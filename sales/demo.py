"""Demo tasks, so that "My day" of the demo sales users has something in every section: call tasks for
the last two weeks' threshold crossings (as the live engine would have made them) and a few manual
tasks each — overdue, due later today, next week. Idempotent: every task has a key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts import roles
from funnel.models import Contact
from sales.models import Task
from sales.services import tasks_from_crossings
from scoring.models import ThresholdCrossing

MANUAL = (
    # (hours from now, title, kind, priority)
    (-26, "Send the quote for the second prototype run", Task.Kind.OFFER, Task.Priority.HIGH),
    (3, "Ask how the EMC pre-scan went", Task.Kind.CALL, Task.Priority.NORMAL),
    (24 * 6, "Thank-you note after the first order", Task.Kind.DELIGHT, Task.Priority.LOW),
)


@dataclass
class DemoTasks:
    threshold_tasks: int = 0
    manual_tasks: int = 0


def load_demo_tasks() -> DemoTasks:
    result = DemoTasks()
    now = timezone.now()
    recent = ThresholdCrossing.objects.filter(crossed_at__gte=now - timedelta(days=14)).order_by(
        "-crossed_at"
    )
    crossings = [(c.pk, c.contact_id, c.owner_id) for c in recent[:15]]
    # Made two hours ago: due within the fast lane's response time from then.
    result.threshold_tasks = tasks_from_crossings(crossings=crossings, now=now - timedelta(hours=2))

    reps = get_user_model().objects.filter(is_active=True, groups__name=roles.SALES).order_by("pk")
    tasks = []
    for rep in reps:
        contacts = list(Contact.objects.filter(owner=rep).order_by("pk")[: len(MANUAL)])
        for (hours, title, kind, priority), contact in zip(MANUAL, contacts, strict=False):
            tasks.append(
                Task(
                    title=title,
                    contact=contact,
                    owner=rep,
                    kind=kind,
                    priority=priority,
                    due_at=now + timedelta(hours=hours),
                    dedupe_key=f"demo:{rep.pk}:{contact.pk}:{kind}",
                )
            )
    before = Task.objects.filter(dedupe_key__startswith="demo:").count()
    Task.objects.bulk_create(tasks, ignore_conflicts=True)
    result.manual_tasks = Task.objects.filter(dedupe_key__startswith="demo:").count() - before
    return result
