"""Write-side logic of the sales workspace."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts import roles
from sales.models import Task


def task_complete(*, task: Task, by, now: datetime | None = None) -> Task:
    """Mark the task done. Only its owner or an admin may; completing it twice changes nothing (the
    UPDATE is guarded by ``done_at IS NULL``, so the first completion time stays)."""
    if task.owner_id != getattr(by, "pk", None) and not roles.has_any(by, roles.MANAGE_USERS):
        raise PermissionDenied("Only the task's owner or an admin may complete it.")
    Task.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=now or timezone.now())
    task.refresh_from_db(fields=["done_at"])
    return task
