"""Read-side queries of the sales workspace."""

from __future__ import annotations

from django.db.models import QuerySet

from sales.models import Task


def open_tasks(*, user) -> QuerySet[Task]:
    """The user's open tasks, the most urgent first: by due time, so the overdue ones lead (the
    partial index on (owner, due_at, id) of open tasks serves exactly this order)."""
    return (
        Task.objects.filter(owner=user, done_at__isnull=True)
        .select_related("contact")
        .order_by("due_at", "id")
    )
