from __future__ import annotations

from collections.abc import Iterable

from notifications.models import Notification


def notifications_create(*, notifications: Iterable[Notification]) -> None:
    """Store notifications; one whose ``dedupe_key`` exists already is skipped, not duplicated."""
    Notification.objects.bulk_create(list(notifications), ignore_conflicts=True)
