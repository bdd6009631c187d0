"""Nurture sequences: what marketing builds (templates, sequences, steps) and what the engine keeps
(enrollments, the step-run log, the email outbox).

The schedule lives in these rows, not in Celery: an active enrollment's ``next_run_at`` says when its
current step is due, and a beat tick claims due rows (see nurturing.engine). Every side effect has a
unique key made of the enrollment and its ``tick`` (how many steps it has run), so a retried or
concurrent run of the same step finds the key taken and does nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_WAIT = timedelta(days=365)
TEMPLATE_BODY_MAX = 100_000


class EmailTemplate(models.Model):
    """An email marketing writes once and sequences send; personalised when sent (nurturing.emails)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    subject = models.CharField(_("subject"), max_length=200)
    body_text = models.TextField(_("text body"), max_length=TEMPLATE_BODY_MAX)
    body_html = models.TextField(_("HTML body"), blank=True, max_length=TEMPLATE_BODY_MAX)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")

    def __str__(self):
        return self.name


class Sequence(models.Model):
    """A nurture sequence: who enters (trigger), what happens (steps), when it ends (goal, exits)."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Manual enrollment only")
        STAGE_ENTERED = "stage_entered", _("Contact enters a stage")
        SCORE_REACHED = "score_reached", _("Score reaches a threshold")
        EVENT = "event", _("An event of a type (and topic)")
        TAG_ADDED = "tag_added", _("A tag is added")

    class Reentry(models.TextChoices):
        NEVER = "never", _("Never")
        AFTER_DAYS = "after_days", _("After some days")

    name = models.CharField(_("name"), max_length=120, unique=True)
    goal = models.CharField(_("goal"), max_length=300, blank=True, help_text=_("What the sequence is for."))
    # Reaching this stage (or a later one) ends the enrollment as "goal reached" — e.g. prospect: the
    # contact became a marketing-qualified name (MQN) and belongs to sales now.
    goal_stage = models.ForeignKey(
        "funnel.Stage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("goal: stage reached"),
    )
    active = models.BooleanField(_("active"), default=False)

    trigger = models.CharField(
        _("entry trigger"), max_length=20, choices=Trigger.choices, default=Trigger.MANUAL
    )
    trigger_stage = models.ForeignKey(
        "funnel.Stage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("trigger stage"),
    )
    trigger_score = models.IntegerField(
        _("trigger score"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
    )
    trigger_event_type = models.ForeignKey(
        "scoring.EventType",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("trigger event type"),
    )
    trigger_topic = models.CharField(_("trigger topic"), max_length=100, blank=True)
    trigger_tag = models.ForeignKey(
        "funnel.Tag",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("trigger tag"),
    )

    reentry = models.CharField(_("re-entry"), max_length=20, choices=Reentry.choices, default=Reentry.NEVER)
    reentry_days = models.PositiveIntegerField(
        _("re-entry after (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )

    # Send window: steps due outside it wait for its next opening (deferred, never dropped).
    # Empty start/end = any time; weekdays are ISO numbers 1 (Monday) … 7 (Sunday).
    window_start = models.TimeField(_("send window from"), null=True, blank=True)
    window_end = models.TimeField(_("send window until"), null=True, blank=True)
    window_days = models.CharField(_("send on weekdays"), max_length=7, default="12345", blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")
        indexes = [
            models.Index(
                fields=["trigger"], name="sequence_active_trigger_idx", condition=models.Q(active=True)
            )
        ]

    def __str__(self):
        return self.name


class Step(models.Model):
    """One step of a sequence, run in ``position`` order unless a branch jumps (forward only)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Send email")
        WAIT = "wait", _("Wait")
        WAIT_EVENT = "wait_event", _("Wait until an event")
        BRANCH = "branch", _("Condition")
        TASK = "task", _("Create a sales task")
        MOVE_STAGE = "move_stage", _("Move to stage")
        ADD_TAG = "add_tag", _("Add tag")
        REMOVE_TAG = "remove_tag", _("Remove tag")
        NOTIFY = "notify", _("Notify the owner")
        END = "end", _("End the sequence")

    class Condition(models.TextChoices):
        SCORE_GTE = "score_gte", _("Score at least")
        FIT_GRADE = "fit_grade", _("Fit grade at least")
        STAGE_AT_LEAST = "stage_at_least", _("Stage at least")
        EVENT_WITHIN = "event_within", _("Event within the last days")
        TOPIC_INTEREST = "topic_interest", _("Interested in topic")
        HAS_TAG = "has_tag", _("Has tag")

    sequence = models.ForeignKey(
        Sequence, on_delete=models.CASCADE, related_name="steps", verbose_name=_("sequence")
    )
    position = models.PositiveIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)

    template = models.ForeignKey(
        EmailTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="steps",
        verbose_name=_("template"),
    )
    # WAIT: how long; WAIT_EVENT: the timeout.
    wait = models.DurationField(_("duration"), null=True, blank=True)
    # WAIT_EVENT and the EVENT_WITHIN condition.
    event_type = models.ForeignKey(
        "scoring.EventType",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("event type"),
    )
    topic = models.CharField(_("topic"), max_length=100, blank=True)

    condition = models.CharField(_("condition"), max_length=20, choices=Condition.choices, blank=True)
    # The condition's number (score, days) or grade letter.
    condition_value = models.CharField(_("value"), max_length=20, blank=True)
    # BRANCH: where to go when the condition holds / does not. WAIT_EVENT: on the event / on timeout.
    # Empty = the next step. Targets lie after this step, so a sequence always ends.
    yes_step = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("if yes, go to"),
    )
    no_step = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("if no, go to"),
    )

    stage = models.ForeignKey(
        "funnel.Stage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("stage"),
    )
    tag = models.ForeignKey(
        "funnel.Tag", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("tag")
    )
    # TASK: the task's title and how many hours the rep has; NOTIFY: the message.
    text = models.CharField(_("text"), max_length=200, blank=True)
    due_hours = models.PositiveIntegerField(
        _("due within (hours)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 90)],
    )

    class Meta:
        ordering = ["sequence", "position"]
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        constraints = [
            # Renumbering parks steps in a high range first (nurturing.services._shift), so the
            # constraint holds after every statement — SQLite has no deferred constraints.
            models.UniqueConstraint(fields=["sequence", "position"], name="step_position_unique"),
        ]

    def __str__(self):
        return f"{self.position}. {self.get_kind_display()}"


class Enrollment(models.Model):
    """A contact's way through one sequence."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")
        FAILED = "failed", _("Failed")

    class ExitReason(models.TextChoices):
        GOAL = "goal", _("Goal reached")
        FAST_LANE = "fast_lane", _("Fast lane to sales")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        BOUNCED = "bounced", _("Hard bounce")
        CONTACT_DELETED = "contact_deleted", _("Contact deleted")
        MANUAL = "manual", _("Ended by hand")
        STEP_FAILED = "step_failed", _("A step failed")

    # SET_NULL, not CASCADE: the enrollment of a deleted contact is kept (without personal data) and
    # the engine ends it as "contact deleted", so the sequence's exit counts stay true.
    contact = models.ForeignKey(
        "funnel.Contact",
        on_delete=models.SET_NULL,
        null=True,
        related_name="enrollments",
        verbose_name=_("contact"),
    )
    sequence = models.ForeignKey(
        Sequence, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("sequence")
    )
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.ACTIVE)
    exit_reason = models.CharField(_("exit reason"), max_length=20, choices=ExitReason.choices, blank=True)
    # The step to run next (None once finished). PROTECT: a step with contacts on it cannot be deleted.
    step = models.ForeignKey(
        Step,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enrollments",
        verbose_name=_("step"),
    )
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    # How many steps this enrollment has run: with the enrollment id, the key of each side effect.
    tick = models.PositiveIntegerField(default=0)
    # WAIT_EVENT: events after this moment count; set when the wait starts.
    waiting_since = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    entered_at = models.DateTimeField(_("entered"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            # A contact is in a sequence at most once at a time (two triggers racing cannot both win).
            models.UniqueConstraint(
                fields=["contact", "sequence"],
                name="enrollment_one_active",
                condition=models.Q(state="active"),
            ),
        ]
        indexes = [
            # The engine's tick: active enrollments by due time.
            models.Index(
                fields=["next_run_at"], name="enrollment_due_idx", condition=models.Q(state="active")
            ),
            models.Index(fields=["contact", "-entered_at"], name="enrollment_contact_idx"),
            models.Index(fields=["sequence", "state", "exit_reason"], name="enrollment_sequence_state_idx"),
        ]

    def __str__(self):
        return f"{self.contact_id} in {self.sequence_id} ({self.state})"


class StepRun(models.Model):
    """The log of steps run; ``(enrollment, tick)`` is unique, so a step runs once per visit."""

    class Outcome(models.TextChoices):
        DONE = "done", _("Done")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(Step, on_delete=models.SET_NULL, null=True, related_name="runs")
    tick = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Step.Kind.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.DONE)
    detail = models.CharField(max_length=500, blank=True)
    ran_at = models.DateTimeField()

    class Meta:
        ordering = ["enrollment", "tick"]
        constraints = [models.UniqueConstraint(fields=["enrollment", "tick"], name="steprun_once")]
        indexes = [models.Index(fields=["step", "outcome"], name="steprun_step_idx")]

    def __str__(self):
        return f"{self.enrollment_id}#{self.tick} {self.kind} {self.outcome}"


class OutboundEmail(models.Model):
    """The outbox: an email a step decided to send, written in the same transaction as the decision.

    Delivery (nurturing.delivery) is a second phase. A worker claims a batch (*sending*), then for
    each email records the attempt (``attempted_at``), calls the provider, and records *sent* — each
    mark committed before the next provider call. A worker killed mid-batch leaves *sending* rows:
    those never attempted are sent after a lease; the one whose attempt was recorded but not its
    result may or may not have gone out, and is **not** sent again (*unconfirmed*) — a nurture email
    is never delivered twice, at the price of at most one uncertain email per crash.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        UNCONFIRMED = "unconfirmed", _("Unconfirmed (interrupted while sending; not repeated)")
        SUPPRESSED = "suppressed", _("Not sent (no consent)")
        FAILED = "failed", _("Failed")

    key = models.CharField(max_length=100, unique=True)
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.SET_NULL, null=True, blank=True, related_name="emails"
    )
    contact = models.ForeignKey(
        "funnel.Contact", on_delete=models.CASCADE, null=True, blank=True, related_name="outbound_emails"
    )
    template = models.ForeignKey(
        EmailTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    sending_since = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbound_pending_idx",
                condition=models.Q(state__in=["queued", "sending"]),
            ),
            models.Index(fields=["contact", "-created_at"], name="outbound_contact_idx"),
        ]

    def __str__(self):
        return f"{self.key} → {self.to} ({self.state})"

    @property
    def message_id(self) -> str:
        return f"<{self.key}@{settings.TRICHTER_MAIL_DOMAIN}>"


class ConsentChange(models.Model):
    """Withdrawals (and grants) of email consent, with where they came from — proof for GDPR."""

    class Source(models.TextChoices):
        UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        USER = "user", _("Changed by a user")
        API = "api", _("API")

    contact = models.ForeignKey("funnel.Contact", on_delete=models.CASCADE, related_name="consent_changes")
    granted = models.BooleanField()
    source = models.CharField(max_length=20, choices=Source.choices)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["contact", "-at"], name="consent_contact_idx")]

    def __str__(self):
        return f"{self.contact_id} {'+' if self.granted else '-'} {self.source}"


class NurtureSettings(models.Model):
    """The one row of nurturing configuration: the sales fast lane."""

    class Assignment(models.TextChoices):
        DEFAULT_OWNER = "default_owner", _("A default owner")
        ROUND_ROBIN = "round_robin", _("Round-robin among sales users")

    fast_lane_response_hours = models.PositiveIntegerField(
        _("respond to a fast-lane request within (hours)"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 14)],
    )
    unowned_assignment = models.CharField(
        _("unowned contacts go to"), max_length=20, choices=Assignment.choices, default=Assignment.ROUND_ROBIN
    )
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default owner"),
    )
    # Round-robin: the user who got the last unowned contact (the next one goes to the next id).
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("nurturing settings")
        verbose_name_plural = _("nurturing settings")

    def __str__(self):
        return str(_("Nurturing settings"))

    @classmethod
    def load(cls) -> NurtureSettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj
