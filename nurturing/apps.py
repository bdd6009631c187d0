from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurturingConfig(AppConfig):
    """Nurture sequences, their emails, and the sales fast lane."""

    name = "nurturing"
    verbose_name = _("Nurturing")

    def ready(self):
        from nurturing import receivers  # noqa: F401 — connects the receivers
