from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    """The sales workspace: tasks for reps (from the fast lane, threshold crossings, sequences and by
    hand), the My-day page and the daily digest."""

    name = "sales"
    verbose_name = _("Sales")

    def ready(self):
        from sales import receivers  # noqa: F401 — connects the receivers
