from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    """CSV import of contacts, companies and events (issue 7, item 2)."""

    name = "imports"
    verbose_name = _("Imports")
