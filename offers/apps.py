from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OffersConfig(AppConfig):
    """Products and their topics, offers and orders, and which customer owns what."""

    name = "offers"
    verbose_name = _("Offers and products")
