"""Funnel analytics kept as pre-aggregated figures, so a period's conversion, velocity and cohorts
are sums over a few thousand rows instead of scans over millions of stage transitions.

The stage history (``funnel.StageTransition``) stays the truth. A database trigger queues every new
transition (``PendingTransition``, whichever code path wrote it: services, admin, COPY); the fold
(:mod:`analytics.fold`) turns queued transitions into each contact's first passage of every stage
(``StagePassage``) and adds to the per-day figures. Figures are therefore additive: the weeks of a
quarter sum to the quarter.

A contact *passes* a stage when a transition takes it from before that stage to it or beyond; it
counts once per stage, the first time (falling back and coming again enters nothing new).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Dimension(models.TextChoices):
    """What a figure is broken down by. ``all`` is the whole funnel (value "")."""

    ALL = "all", _("All contacts")
    SOURCE = "source", _("Source")
    OWNER = "owner", _("Owner")
    INDUSTRY = "industry", _("Industry")
    PERSONA = "persona", _("Persona")


BREAKDOWNS = [Dimension.SOURCE, Dimension.OWNER, Dimension.INDUSTRY, Dimension.PERSONA]


class PendingTransition(models.Model):
    """A stage transition not yet folded into the figures; written by a trigger (migration 0001)."""

    transition_id = models.BigIntegerField(primary_key=True)
    contact_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["contact_id"], name="pending_transition_contact_idx")]

    def __str__(self):
        return f"transition {self.transition_id}"


class StagePassage(models.Model):
    """The first time a contact passed a stage, with what it is broken down by at that moment."""

    contact = models.ForeignKey("funnel.Contact", on_delete=models.CASCADE, related_name="+", db_index=False)
    stage = models.ForeignKey("funnel.Stage", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    day = models.DateField(help_text="The local day of ``at``: the key of the daily figures.")
    # Arrived in exactly this stage (not carried past it by a skip): only those spent time in it.
    landed = models.BooleanField()
    # When the contact first passed the next stage; null while it has not.
    next_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, blank=True)
    owner_id = models.BigIntegerField(null=True, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    persona_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "stage"], name="passage_contact_stage_unique")
        ]
        indexes = [models.Index(fields=["stage", "day"], name="passage_stage_day_idx")]

    def __str__(self):
        return f"{self.contact_id} passed {self.stage_id} at {self.at:%Y-%m-%d %H:%M}"


class StageDay(models.Model):
    """Per local day, stage and breakdown value: contacts that first passed the stage that day
    (``entered``) and how many of those have passed the next stage since (``converted``)."""

    day = models.DateField()
    stage = models.ForeignKey("funnel.Stage", on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=10, choices=Dimension.choices)
    value = models.CharField(max_length=100, blank=True)
    entered = models.BigIntegerField(default=0)
    converted = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dimension", "day", "stage", "value"], name="stageday_unique")
        ]

    def __str__(self):
        return f"{self.day} {self.stage_id} {self.dimension}={self.value}: +{self.entered}/{self.converted}"


class StageDwell(models.Model):
    """Per local day of arrival and stage: how many contacts that arrived in the stage took ``days``
    (whole days, rounded) to pass the next one. A histogram, so medians and percentiles of any period
    are sums over at most a few hundred rows per stage."""

    day = models.DateField()
    stage = models.ForeignKey("funnel.Stage", on_delete=models.CASCADE, related_name="+")
    days = models.IntegerField()
    contacts = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "stage", "days"], name="stagedwell_unique")]

    def __str__(self):
        return f"{self.day} {self.stage_id}: {self.contacts} × {self.days} d"


class StageCohort(models.Model):
    """Contacts that became leads in ``month`` (first of the month) and first passed ``stage``
    ``months_after`` calendar months later (0: the same month)."""

    month = models.DateField()
    stage = models.ForeignKey("funnel.Stage", on_delete=models.CASCADE, related_name="+")
    months_after = models.IntegerField()
    contacts = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "stage", "months_after"], name="stagecohort_unique")
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.stage_id} +{self.months_after}: {self.contacts}"


class SavedPlan(models.Model):
    """A plan backwards from a revenue goal, kept so that plan and actuals can be compared over the
    year. ``rates`` are the rates the plan was made with (stage key → 0–1), ``required`` the
    contacts each stage needed (stage key → n): both fixed when saved, so the plan does not drift
    when measured conversion changes."""

    name = models.CharField(_("name"), max_length=120)
    revenue_goal = models.DecimalField(
        _("revenue goal"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    average_order_value = models.DecimalField(
        _("average order value"),
        max_digits=18,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    starts_on = models.DateField(_("starts on"))
    months = models.PositiveSmallIntegerField(
        _("months"), validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    rates = models.JSONField(_("rates"), default=dict)
    required = models.JSONField(_("required"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        verbose_name = _("saved plan")
        verbose_name_plural = _("saved plans")

    def __str__(self):
        return self.name
