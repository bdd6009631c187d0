from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    """Activity events, fit and engagement scores, thresholds (issue: activity tracking and scoring)."""

    name = "scoring"
    verbose_name = _("Scoring")

    def ready(self):
        from scoring import receivers  # noqa: F401 — connects the receivers
