"""An import job and the rows it rejected.

The uploaded file is kept in the database (``ImportJob.data``, at most ``MAX_UPLOAD_BYTES``), not on
disk: the web process and the Celery worker run in separate containers without a shared volume
(docker-compose.yml), there is no MEDIA_ROOT, and a row in PostgreSQL is backed up, transactional
with the job and gone when the job is deleted. Every read of a job for progress defers the column
(``imports.selectors``), so polling never loads the file.

``processed_rows`` is the resume cursor: the number of data rows (after the header) already handled.
It is advanced in the same transaction that writes a batch's contacts and rejections, so a crash
loses at most the uncommitted batch and a rerun starts exactly after the last committed one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        CONTACTS = "contacts", _("Contacts")
        COMPANIES = "companies", _("Companies")
        EVENTS = "events", _("Events")

    class Dedup(models.TextChoices):
        UPDATE = "update", _("Update existing records")
        SKIP = "skip", _("Skip existing records")

    class State(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        MAPPED = "mapped", _("mapped")
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    data = models.BinaryField(_("file"), editable=False)
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    encoding = models.CharField(_("encoding"), max_length=20)
    delimiter = models.CharField(_("delimiter"), max_length=1)
    header = models.JSONField(_("header"), default=list)
    mapping = models.JSONField(_("mapping"), default=dict, blank=True)
    dedup = models.CharField(_("duplicates"), max_length=8, choices=Dedup.choices, default=Dedup.SKIP)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.UPLOADED)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Set when queued and by every committed batch: a job whose heartbeat is old has lost its worker.
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="importjob_state_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.filename}"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.processed_rows * 100 // self.total_rows)


class ImportRejection(models.Model):
    """A row the import did not take, with the reason, for the report and the rejected-rows CSV."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    # The row as a spreadsheet numbers it: the header is row 1, the first data row row 2.
    row_number = models.PositiveIntegerField(_("row"))
    reason = models.TextField(_("reason"))
    raw = models.JSONField(_("row"), default=list)

    class Meta:
        ordering = ["job", "row_number", "id"]
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        indexes = [models.Index(fields=["job", "row_number"], name="importrejection_job_idx")]

    def __str__(self):
        return f"{self.job_id}:{self.row_number}"
