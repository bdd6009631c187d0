from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContentConfig(AppConfig):
    """Buyer personas, content blocks and the marketing hourglass (PRODUCT.md §4, §5)."""

    name = "content"
    verbose_name = _("Content")
