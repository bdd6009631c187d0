"""Read-side queries of notifications. Every query is scoped to one user: nobody reads another's."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Notification


def notification_list(*, user) -> QuerySet[Notification]:
    """The user's notifications, newest first, with the contact joined (the list links to it)."""
    return (
        Notification.objects.filter(user_id=user.pk).select_related("contact").order_by("-created_at", "-id")
    )


def notification_unread_count(*, user) -> int:
    """Unread notifications of the user (served by the inbox index: user, read_at)."""
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()
