from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurturingConfig(AppConfig):
    """Nurture sequences and the sales fast lane (issue: nurture sequences)."""

    name = "nurturing"
    verbose_name = _("Nurturing")
