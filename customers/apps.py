from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    """Existing customers: the R/U/C detector (repeat, up- and cross-selling signals) and consumption."""

    name = "customers"
    verbose_name = _("Existing customers")

    def ready(self):
        from customers import receivers  # noqa: F401 — connects the receivers
