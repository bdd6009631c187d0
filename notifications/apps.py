from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """In-app notifications for users (threshold crossings now; tasks and signals later)."""

    name = "notifications"
    verbose_name = _("Notifications")
