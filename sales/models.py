from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Task(models.Model):
    """Something a sales rep should do about a contact, by a due time.

    ``dedupe_key`` (unique, optional) makes a task created by automation exist once however often the
    creating work is retried: a fast-lane request creates one task per request event, a sequence step
    one per enrollment step run.
    """

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        EMAIL = "email", _("Email")
        OFFER = "offer", _("Offer")
        MEETING = "meeting", _("Meeting")
        DELIGHT = "delight", _("Delight")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Manual")
        FAST_LANE = "fast_lane", _("Fast lane")
        THRESHOLD = "threshold", _("Threshold")
        SEQUENCE = "sequence", _("Sequence")
        DETECTOR = "detector", _("Detector")
        OCCASION = "occasion", _("Occasion")

    class Priority(models.IntegerChoices):
        LOW = 1, _("Low")
        NORMAL = 2, _("Normal")
        HIGH = 3, _("High")

    title = models.CharField(_("title"), max_length=200)
    contact = models.ForeignKey(
        "funnel.Contact", on_delete=models.CASCADE, related_name="tasks", verbose_name=_("contact")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sales_tasks",
        verbose_name=_("owner"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.CALL)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.MANUAL)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    note = models.TextField(_("note"), blank=True, max_length=4000)
    due_at = models.DateTimeField(_("due"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            # "My open tasks, the most urgent first" — the rep's list.
            models.Index(
                fields=["owner", "due_at", "id"],
                name="task_open_owner_due_idx",
                condition=models.Q(done_at__isnull=True),
            ),
            models.Index(fields=["contact", "-created_at"], name="task_contact_idx"),
        ]

    def __str__(self):
        return self.title


class DigestSent(models.Model):
    """The daily digest email went to this user on this day. The unique constraint makes it go out once
    a day however often the beat task runs, retries or runs on two workers at once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    day = models.DateField(_("day"))
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("digest sent")
        verbose_name_plural = _("digests sent")
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digest_once_per_user_day")]

    def __str__(self):
        return f"{self.user_id} {self.day:%Y-%m-%d}"
