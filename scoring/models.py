from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnel.models import Contact, Stage
from scoring.decay import MAX_HALF_LIFE_DAYS, MIN_HALF_LIFE_DAYS

EVENT_ID_MAX_LENGTH = 255
TOPIC_MAX_LENGTH = 100
PROPERTIES_MAX_BYTES = 16 * 1024


class EventType(models.Model):
    """A kind of activity. The built-in keys are part of the API contract; marketing adds more."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True, max_length=1000)
    # A fast-lane event (consultation, demo, price request) signals readiness to buy: it takes the
    # contact out of nurturing and straight to sales.
    fast_lane = models.BooleanField(_("fast lane"), default=False)
    builtin = models.BooleanField(_("built in"), default=False, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["key"]
        verbose_name = _("event type")
        verbose_name_plural = _("event types")

    def __str__(self):
        return self.key


class Event(models.Model):
    """One activity of a contact or an anonymous visitor, stored before anything is computed from it.

    ``external_id`` is the sender's idempotency key: the unique constraint decides which of two
    concurrent deliveries of the same event is stored. ``applied_at`` is set in the same transaction
    that adds the event's points, so an event counts exactly once however often work is retried.
    """

    external_id = models.CharField(_("event id"), max_length=EVENT_ID_MAX_LENGTH, unique=True)
    type = models.ForeignKey(
        EventType, on_delete=models.PROTECT, related_name="events", verbose_name=_("type")
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("contact"),
    )
    anonymous_id = models.CharField(_("anonymous id"), max_length=255, blank=True)
    topic = models.CharField(_("topic"), max_length=TOPIC_MAX_LENGTH, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred"))
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="event_contact_timeline_idx"),
            models.Index(
                fields=["anonymous_id"],
                name="event_anonymous_idx",
                condition=models.Q(contact__isnull=True) & ~models.Q(anonymous_id=""),
            ),
            # The sweep looks only at events not yet applied: a small partial index.
            models.Index(
                fields=["id"], name="event_pending_idx", condition=models.Q(applied_at__isnull=True)
            ),
            models.Index(fields=["type", "occurred_at"], name="event_type_time_idx"),
        ]

    def __str__(self):
        return f"{self.type_id} {self.external_id}"


class ScoringSettings(models.Model):
    """The one row of scoring configuration (thresholds, half-life, fit grades)."""

    half_life_days = models.PositiveIntegerField(
        _("half-life (days)"),
        default=30,
        validators=[MinValueValidator(MIN_HALF_LIFE_DAYS), MaxValueValidator(MAX_HALF_LIFE_DAYS)],
        help_text=_("Engagement points halve after this many days."),
    )
    sales_threshold = models.PositiveIntegerField(
        _("sales threshold"),
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text=_("Engagement at or above this is the right time for sales to call."),
    )
    grade_a_min = models.IntegerField(_("fit grade A from"), default=40)
    grade_b_min = models.IntegerField(_("fit grade B from"), default=25)
    grade_c_min = models.IntegerField(_("fit grade C from"), default=10)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("scoring settings")
        verbose_name_plural = _("scoring settings")

    def __str__(self):
        return str(_("Scoring settings"))

    def clean(self):
        if not self.grade_a_min > self.grade_b_min > self.grade_c_min:
            raise ValidationError(_("Fit grade thresholds must fall from A to C (A > B > C)."))

    @classmethod
    def load(cls) -> "ScoringSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj

    def grade(self, fit_score: int) -> str:
        if fit_score >= self.grade_a_min:
            return "A"
        if fit_score >= self.grade_b_min:
            return "B"
        if fit_score >= self.grade_c_min:
            return "C"
        return "D"


class EngagementRule(models.Model):
    """Points for an event type, optionally only for a topic or a property match, with a daily cap."""

    name = models.CharField(_("name"), max_length=100)
    event_type = models.ForeignKey(
        EventType, on_delete=models.CASCADE, related_name="engagement_rules", verbose_name=_("event type")
    )
    points = models.IntegerField(_("points"), validators=[MinValueValidator(-1000), MaxValueValidator(1000)])
    topic = models.CharField(_("only for topic"), max_length=TOPIC_MAX_LENGTH, blank=True)
    property_key = models.CharField(_("property"), max_length=100, blank=True)
    property_contains = models.CharField(_("contains"), max_length=200, blank=True)
    daily_cap = models.PositiveIntegerField(
        _("cap per contact and day"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["event_type__key", "name", "id"]
        verbose_name = _("engagement rule")
        verbose_name_plural = _("engagement rules")

    def __str__(self):
        return self.name

    def clean(self):
        if bool(self.property_key) != bool(self.property_contains):
            raise ValidationError(_("Give both a property and the text it must contain, or neither."))

    def matches(self, *, topic: str, properties: dict) -> bool:
        if self.topic and self.topic != topic:
            return False
        if self.property_key:
            value = properties.get(self.property_key)
            if value is None or self.property_contains.lower() not in str(value).lower():
                return False
        return True


class FitRule(models.Model):
    """Points for how well a contact fits: attributes of the contact and its company."""

    class Attribute(models.TextChoices):
        INDUSTRY_IN = "industry_in", _("company industry is one of")
        EMPLOYEES_GTE = "employees_gte", _("company employees at least")
        JOB_TITLE_CONTAINS = "job_title_contains", _("job title contains")
        BUSINESS_EMAIL = "business_email", _("email is not from a free-mail domain")
        HAS_TAG = "has_tag", _("contact has tag")

    name = models.CharField(_("name"), max_length=100)
    attribute = models.CharField(_("attribute"), max_length=30, choices=Attribute.choices)
    value = models.CharField(_("value"), max_length=500, blank=True)
    points = models.IntegerField(_("points"), validators=[MinValueValidator(-1000), MaxValueValidator(1000)])
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["attribute", "name", "id"]
        verbose_name = _("fit rule")
        verbose_name_plural = _("fit rules")

    def __str__(self):
        return self.name

    def clean(self):
        if self.attribute == self.Attribute.EMPLOYEES_GTE:
            if not self.value.strip().isdigit():
                raise ValidationError({"value": _("Enter a whole number of employees.")})
        elif self.attribute != self.Attribute.BUSINESS_EMAIL and not self.value.strip():
            raise ValidationError({"value": _("This attribute needs a value.")})


class StageRule(models.Model):
    """An automatic forward move: contacts in ``from_stage`` or later (but before ``to_stage``) move
    to ``to_stage`` when the trigger happens. Rules never move a contact backwards."""

    class Trigger(models.TextChoices):
        IDENTIFIED_ACTIVITY = "identified_activity", _("any activity of an identified contact")
        EVENT_TYPE = "event_type", _("an event of a type")
        FAST_LANE = "fast_lane", _("a fast-lane event")
        RIGHT_TIME = "right_time", _("engagement reaches the sales threshold with fit grade B or better")

    name = models.CharField(_("name"), max_length=100)
    trigger = models.CharField(_("trigger"), max_length=30, choices=Trigger.choices)
    event_type = models.ForeignKey(
        EventType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("event type"),
    )
    from_stage = models.ForeignKey(
        Stage, on_delete=models.CASCADE, related_name="+", verbose_name=_("from stage")
    )
    to_stage = models.ForeignKey(
        Stage, on_delete=models.CASCADE, related_name="+", verbose_name=_("to stage")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["to_stage__position", "id"]
        verbose_name = _("stage rule")
        verbose_name_plural = _("stage rules")

    def __str__(self):
        return self.name

    def clean(self):
        if self.from_stage_id and self.to_stage_id and self.from_stage.position >= self.to_stage.position:
            raise ValidationError(_("A stage rule only moves forward: the target must come after the start."))
        if (self.trigger == self.Trigger.EVENT_TYPE) != bool(self.event_type_id):
            raise ValidationError({"event_type": _("Choose an event type for (and only for) that trigger.")})


class ContactScore(models.Model):
    """Scoring state of one contact. ``Contact.score`` etc. are the denormalised values lists sort by."""

    contact = models.OneToOneField(
        Contact, on_delete=models.CASCADE, primary_key=True, related_name="scoring"
    )
    engagement_acc = models.FloatField(default=0.0)
    fit_score = models.IntegerField(default=0)
    fit_grade = models.CharField(max_length=1, default="D")
    above_threshold = models.BooleanField(default=False)
    # When the shown engagement score next changes by decay alone (see scoring.decay).
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"], name="contactscore_due_idx", condition=models.Q(due_at__isnull=False)
            )
        ]

    def __str__(self):
        return f"{self.contact_id}: {self.engagement_acc:.3g}"


class ContactRuleScore(models.Model):
    """Per contact and engagement rule: how many events counted and their decaying points."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EngagementRule, on_delete=models.CASCADE, related_name="+")
    events = models.PositiveIntegerField(default=0)
    acc = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "rule"], name="contactrulescore_unique")]

    def __str__(self):
        return f"{self.contact_id}/{self.rule_id}: {self.events}"


class ContactTopic(models.Model):
    """Per contact and topic: a decaying interest weight (one point per event on the topic)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=TOPIC_MAX_LENGTH)
    events = models.PositiveIntegerField(default=0)
    acc = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "topic"], name="contacttopic_unique")]
        indexes = [models.Index(fields=["topic", "contact"], name="contacttopic_topic_idx")]

    def __str__(self):
        return f"{self.contact_id}/{self.topic}: {self.events}"


class RuleDayCount(models.Model):
    """Points a capped rule has given a contact on one day (UTC), so the cap holds across batches."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EngagementRule, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    points = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "rule", "day"], name="ruledaycount_unique")]

    def __str__(self):
        return f"{self.contact_id}/{self.rule_id} {self.day}: {self.points}"


class ThresholdCrossing(models.Model):
    """Each time a contact's engagement rises to the sales threshold. The owner is told once per row."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="threshold_crossings")
    crossed_at = models.DateTimeField(default=timezone.now)
    engagement = models.IntegerField()
    threshold = models.IntegerField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-crossed_at"]
        indexes = [models.Index(fields=["contact", "-crossed_at"], name="crossing_contact_idx")]

    def __str__(self):
        return f"{self.contact_id} crossed {self.threshold} at {self.crossed_at:%Y-%m-%d %H:%M}"


class RebuildJob(models.Model):
    """A full rebuild of every contact's scores from its stored events (after a rule change).

    The job is worked through in batches over contact ids: ``last_contact_id`` is the cursor, saved in
    the transaction that rebuilt the batch, so a crashed worker resumes exactly after the last
    committed batch (see scoring.rebuild). At most one job is pending at a time: more requests join it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        # A newer job started before this one finished; that one recomputes every contact anyway.
        SUPERSEDED = "superseded", _("superseded")

    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Set by every committed batch: a running job whose heartbeat is old has lost its worker.
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    total_contacts = models.PositiveIntegerField(_("contacts"), default=0)
    done_contacts = models.PositiveIntegerField(_("contacts done"), default=0)
    last_contact_id = models.BigIntegerField(_("last contact id"), default=0)
    batches = models.PositiveIntegerField(_("batches"), default=0)
    failures = models.PositiveIntegerField(_("failed attempts"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("score rebuild")
        verbose_name_plural = _("score rebuilds")
        constraints = [
            # Two concurrent requests cannot both create a pending job (the second joins the first).
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="pending"), name="rebuildjob_one_pending"
            )
        ]
        indexes = [
            models.Index(
                fields=["status"],
                name="rebuildjob_active_idx",
                condition=models.Q(status__in=["pending", "running"]),
            )
        ]

    def __str__(self):
        return f"rebuild #{self.pk} {self.status}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_contacts:
            return 0
        return min(100, self.done_contacts * 100 // self.total_contacts)
