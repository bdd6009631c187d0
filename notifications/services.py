from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from notifications.models import Notification


def notifications_create(*, notifications: Iterable[Notification]) -> None:
    """Store notifications; one whose ``dedupe_key`` exists already is skipped, not duplicated."""
    Notification.objects.bulk_create(list(notifications), ignore_conflicts=True)


def notification_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications read: those in ``ids``, or all of them when ``ids`` is None.

    Ids of other users' notifications are ignored (the filter is on ``user``), and already read ones
    keep their first ``read_at``. Returns how many were marked now; one UPDATE, safe to repeat.
    """
    qs = Notification.objects.filter(user_id=user.pk, read_at__isnull=True)
    if ids is not None:
        ids = list(ids)
        if not ids:
            return 0
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
