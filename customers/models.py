"""What the R/U/C detector raises (``Signal``) and how it is tuned (``DetectorSettings``)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class DetectorSettings(models.Model):
    """The one row of detector configuration."""

    interest_threshold = models.FloatField(
        _("interest threshold"),
        default=2.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(1000)],
        help_text=_(
            "Decayed topic weight from which a customer counts as interested: each event on a topic adds 1, "
            "halving with the scoring half-life."
        ),
    )
    repeat_after_days = models.PositiveIntegerField(
        _("repeat purchase after (days)"),
        default=180,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Interest in a repeatable product bought longer ago than this is a repeat signal."),
    )
    not_consuming_days = models.PositiveIntegerField(
        _("not consuming after (days)"),
        default=60,
        validators=[MinValueValidator(7), MaxValueValidator(3650)],
        help_text=_("A customer without a usage event for a product they own for this long is flagged."),
    )
    # What a newly flagged customer gets: a task for the owner, or an enrollment in this sequence.
    not_consuming_sequence = models.ForeignKey(
        "nurturing.Sequence",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sequence for customers not consuming"),
        help_text=_("Empty: the owner gets a task instead."),
    )
    delight_days_ahead = models.PositiveIntegerField(
        _("delight tasks ahead (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("How many days before a customer's occasion its delight task is due."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("detector settings")
        verbose_name_plural = _("detector settings")

    def __str__(self):
        return str(_("Detector settings"))

    @classmethod
    def load(cls) -> DetectorSettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class Signal(models.Model):
    """An existing customer shows interest in a product they do not own (cross, up) or bought long
    ago (repeat). One open signal per contact and product (a partial unique index)."""

    class Kind(models.TextChoices):
        CROSS = "cross", _("Cross-sell")
        UP = "up", _("Up-sell")
        REPEAT = "repeat", _("Repeat purchase")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")
        DISMISSED = "dismissed", _("Dismissed")

    contact = models.ForeignKey(
        "funnel.Contact", on_delete=models.CASCADE, related_name="signals", verbose_name=_("contact")
    )
    company = models.ForeignKey(
        "funnel.Company", on_delete=models.SET_NULL, null=True, blank=True, related_name="signals"
    )
    product = models.ForeignKey(
        "offers.Product", on_delete=models.CASCADE, related_name="signals", verbose_name=_("product")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    topic = models.CharField(_("topic"), max_length=100)
    weight = models.FloatField(_("interest"))
    # The events that caused it: the contact's latest events on the product's topics (ids, newest first).
    event_ids = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="signals"
    )
    dismiss_reason = models.CharField(_("reason dismissed"), max_length=300, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What accepting it started.
    task = models.ForeignKey("sales.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    offer = models.ForeignKey(
        "offers.Offer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    enrollment = models.ForeignKey(
        "nurturing.Enrollment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("raised"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("signal")
        verbose_name_plural = _("signals")
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "product"], name="signal_one_open", condition=models.Q(status="open")
            )
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="signal_status_idx"),
            models.Index(fields=["owner", "status", "-created_at"], name="signal_owner_idx"),
            models.Index(fields=["contact", "-created_at"], name="signal_contact_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.product_id} for {self.contact_id}"


class Consumption(models.Model):
    """Whether a customer uses a product they own: from their ``usage`` events (on one of the
    product's topics, or with ``properties.product`` = the product's id or article number). Kept by
    a periodic check (customers.consumption)."""

    class State(models.TextChoices):
        CONSUMING = "consuming", _("Consuming")
        STARTING = "starting", _("Not started yet")
        NOT_CONSUMING = "not_consuming", _("Not consuming")

    ownership = models.OneToOneField("offers.Ownership", on_delete=models.CASCADE, related_name="consumption")
    contact = models.ForeignKey("funnel.Contact", on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("offers.Product", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(_("state"), max_length=20, choices=State.choices)
    last_usage_at = models.DateTimeField(_("last use"), null=True, blank=True)
    # When the current "not consuming" spell began (its task or enrollment is keyed by it).
    flagged_at = models.DateTimeField(_("flagged"), null=True, blank=True)
    checked_at = models.DateTimeField(_("checked"))

    class Meta:
        ordering = ["state", "last_usage_at", "id"]
        verbose_name = _("consumption")
        verbose_name_plural = _("consumption")
        indexes = [models.Index(fields=["state", "last_usage_at"], name="consumption_state_idx")]

    def __str__(self):
        return f"{self.contact_id}/{self.product_id}: {self.state}"


class Reference(models.Model):
    """A customer vouches for us: a testimonial, case study, referral or review (PRODUCT.md §1: ~10
    published references a year, more direct recommendations)."""

    class Kind(models.TextChoices):
        TESTIMONIAL = "testimonial", _("Testimonial")
        CASE_STUDY = "case_study", _("Case study")
        REFERRAL = "referral", _("Referral")
        REVIEW = "review", _("Review")

    contact = models.ForeignKey(
        "funnel.Contact", on_delete=models.CASCADE, related_name="references", verbose_name=_("contact")
    )
    company = models.ForeignKey(
        "funnel.Company",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="references",
        verbose_name=_("company"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    date = models.DateField(_("date"))
    link = models.URLField(_("link"), max_length=500, blank=True)
    may_publish = models.BooleanField(_("may be published"), default=False)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("reference")
        verbose_name_plural = _("references")
        indexes = [
            models.Index(fields=["-date"], name="reference_date_idx"),
            models.Index(fields=["contact", "-date"], name="reference_contact_idx"),
            models.Index(fields=["company", "-date"], name="reference_company_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.date})"


class Occasion(models.Model):
    """A yearly date worth a small surprise (PRODUCT.md §6: delight): a birthday, the company's
    anniversary, the anniversary of the first order. A delight task is created some days ahead."""

    class Kind(models.TextChoices):
        BIRTHDAY = "birthday", _("Birthday")
        COMPANY_ANNIVERSARY = "company_anniversary", _("Company anniversary")
        FIRST_ORDER = "first_order", _("First-order anniversary")
        OTHER = "other", _("Other")

    contact = models.ForeignKey(
        "funnel.Contact", on_delete=models.CASCADE, related_name="occasions", verbose_name=_("contact")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    date = models.DateField(_("date"), help_text=_("The original date; it recurs every year."))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["date", "id"]
        verbose_name = _("occasion")
        verbose_name_plural = _("occasions")
        constraints = [models.UniqueConstraint(fields=["contact", "kind", "date"], name="occasion_unique")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.date:%d.%m.}"
