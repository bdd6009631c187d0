from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

STAGE_TEXT_COLUMNS = ("buying_process", "task", "expected_response", "metric", "discovery")
STAGE_TEXT_MAX_LENGTH = 2000


class Stage(models.Model):
    """One row of the funnel table. The default funnel has six, created by a data migration."""

    key = models.SlugField(_("key"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=80)
    position = models.PositiveSmallIntegerField(_("position"), unique=True)
    buying_process = models.TextField(_("buying process"), max_length=STAGE_TEXT_MAX_LENGTH, blank=True)
    task = models.TextField(_("task"), max_length=STAGE_TEXT_MAX_LENGTH, blank=True)
    expected_response = models.TextField(_("expected response"), max_length=STAGE_TEXT_MAX_LENGTH, blank=True)
    metric = models.TextField(_("metric"), max_length=STAGE_TEXT_MAX_LENGTH, blank=True)
    discovery = models.TextField(_("discovery"), max_length=STAGE_TEXT_MAX_LENGTH, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")

    def __str__(self):
        return self.name


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=253, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [
            models.Index(Upper("name"), "id", name="company_name_upper_idx"),
            models.Index(fields=["industry"], name="company_industry_idx"),
            models.Index(fields=["-created_at"], name="company_created_idx"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        self.domain = normalise_domain(self.domain)


def normalise_domain(value: str) -> str:
    """``https://Example.com/`` → ``example.com``, so the UI and the API store a domain alike."""
    domain = (value or "").strip().lower()
    for prefix in ("https://", "http://"):
        if domain.startswith(prefix):
            domain = domain[len(prefix) :]
    return domain.rstrip("/")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_ci_unique")]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class Contact(models.Model):
    """A person in the funnel. Scores are kept current by the scoring app; never set them directly."""

    class Source(models.TextChoices):
        """Where the contact came from: the channel the analytics break conversion down by."""

        WEBSITE = "website", _("Website")
        REFERRAL = "referral", _("Referral")
        EVENT = "event", _("Trade fair or event")
        ADVERTISING = "advertising", _("Advertising")
        SOCIAL = "social", _("Social media")
        OUTBOUND = "outbound", _("Own prospecting")
        PARTNER = "partner", _("Partner")
        IMPORT = "import", _("List import")
        OTHER = "other", _("Other")

    email = models.EmailField(_("email"), max_length=254, null=True, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    company = models.ForeignKey(
        Company,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
        verbose_name=_("company"),
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, related_name="contacts", verbose_name=_("stage")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_contacts",
        verbose_name=_("owner"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts", verbose_name=_("tags"))
    # Blank: not known. Both are copied into the stage history's analytics when the contact passes a
    # stage (analytics.StagePassage), so later edits do not rewrite what already happened.
    # db_default: bulk writers that name their columns (COPY, other tools) need not know this one.
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, blank=True, default="", db_default=""
    )
    persona = models.ForeignKey(
        "content.Persona",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
        verbose_name=_("persona"),
    )
    consent_email = models.BooleanField(_("email consent"), default=False)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    score = models.IntegerField(_("score"), default=0, editable=False)
    fit_score = models.IntegerField(_("fit score"), default=0, editable=False)
    engagement_score = models.IntegerField(_("engagement score"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=models.Q(email__isnull=False), name="contact_email_ci_unique"
            ),
        ]
        # One index per list filter × ordering the UI and API offer; "id" breaks ties so that
        # pagination is stable. PostgreSQL-only trigram indexes for search are in a migration.
        indexes = [
            models.Index(fields=["-score", "-id"], name="contact_score_idx"),
            models.Index(fields=["-created_at", "-id"], name="contact_created_idx"),
            models.Index(fields=["last_name", "first_name", "id"], name="contact_last_name_idx"),
            models.Index(fields=["stage", "-score", "-id"], name="contact_stage_score_idx"),
            models.Index(fields=["stage", "-created_at", "-id"], name="contact_stage_created_idx"),
            models.Index(fields=["stage", "last_name", "first_name", "id"], name="contact_stage_name_idx"),
            models.Index(fields=["owner", "-score", "-id"], name="contact_owner_score_idx"),
            models.Index(fields=["owner", "-created_at", "-id"], name="contact_owner_created_idx"),
        ]

    def __str__(self):
        return self.full_name or self.email or f"#{self.pk}"

    def save(self, *args, **kwargs):
        # Blank and missing emails are both "no email" (NULL), so they never collide on uniqueness.
        self.email = (self.email or "").strip() or None
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        self.email = (self.email or "").strip() or None
        if self.email:
            # Compare exactly as the unique constraint does (LOWER in the database), not with
            # iexact, whose UPPER folds some Unicode characters differently.
            clash = (
                Contact.objects.alias(email_lower=Lower("email"))
                .filter(email_lower=Lower(models.Value(self.email)))
                .exclude(pk=self.pk)
            )
            if clash.exists():
                raise ValidationError({"email": _("A contact with this email address already exists.")})

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class StageTransition(models.Model):
    """Append-only history of a contact's stages: who or which rule moved it, when and why."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="transitions", verbose_name=_("contact")
    )
    from_stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("from")
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+", verbose_name=_("to"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    rule = models.CharField(_("rule"), max_length=100, blank=True)
    reason = models.TextField(_("reason"), max_length=1000, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("stage transition")
        verbose_name_plural = _("stage transitions")
        indexes = [
            models.Index(fields=["contact", "at", "id"], name="transition_contact_idx"),
            models.Index(fields=["to_stage", "at"], name="transition_to_stage_idx"),
            models.Index(fields=["at"], name="transition_at_idx"),
        ]

    def __str__(self):
        return f"{self.contact_id}: {self.from_stage_id} → {self.to_stage_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Stage transitions are append-only.")
        super().save(*args, **kwargs)


class StageCountDelta(models.Model):
    """Changes to the number of contacts per stage, summed to give the live counts.

    Counting a million contacts per funnel page view costs ~100 ms; summing these rows costs ~1 ms.
    Database triggers (migration 0004) write a row for every statement that inserts or deletes
    contacts and for every stage change, whichever code path did it (services, admin, COPY). The
    rows are append-only, so writers never wait on a shared counter row; a periodic task folds them
    into one row per stage (:func:`funnel.services.stage_counts_compact`).
    """

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    delta = models.BigIntegerField()

    class Meta:
        verbose_name = _("stage count change")
        verbose_name_plural = _("stage count changes")

    def __str__(self):
        return f"{self.stage_id}: {self.delta:+d}"
