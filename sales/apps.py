from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    """The sales workspace: tasks for reps (the fast lane creates the first ones)."""

    name = "sales"
    verbose_name = _("Sales")
