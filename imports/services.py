"""The import job's life: upload → mapped → queued → running → done / failed.

- ``import_upload(*, kind, filename, data, by)``: check the file, detect encoding, delimiter and
  header, suggest a mapping; the job is *uploaded*.
- ``import_configure(*, job, mapping, dedup)``: the user's column mapping; the job is *mapped*.
- ``import_start(*, job)``: *queued*, the task is sent after commit.
- ``import_run(*, job_id, …)``: the work (``imports.tasks.run_import``), in batches of
  ``BATCH_ROWS`` rows. Each batch is one transaction that locks the job row (``SELECT … FOR UPDATE
  SKIP LOCKED``: a second worker on the same job skips it), reads the cursor ``processed_rows`` under
  the lock, writes the batch's records and rejections and advances the cursor and the counts. A worker
  that dies mid-batch rolls the batch back, cursor included; the next run resumes after the last
  committed batch, so nothing is lost and nothing is written twice. An exception marks the job
  *failed* with the error; ``import_retry`` queues it again from its cursor.
- ``import_resume_stalled()``: the periodic check that queues jobs no worker is on.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Action
from audit.services import audit_record
from imports.models import MAX_UPLOAD_BYTES, ImportJob, ImportRejection
from imports.parsing import CsvInvalid, inspect, read_rows, suggest_mapping, validate_mapping
from imports.processors import processor_for

logger = logging.getLogger(__name__)

BATCH_ROWS = 2000
ALLOWED_EXTENSIONS = (".csv", ".txt", ".tsv")
# A task works this long, then queues itself again (below CELERY_TASK_SOFT_TIME_LIMIT).
TASK_BUDGET_SECONDS = 180
STALLED_AFTER = timedelta(minutes=10)  # running, but no batch committed for this long
UNCLAIMED_AFTER = timedelta(minutes=2)  # queued, but no worker took it


def import_upload(*, kind: str, filename: str, data: bytes, by=None) -> ImportJob:
    """Store an uploaded file as a new job; ``ValidationError`` says what is wrong with it."""
    if kind not in ImportJob.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of import.")})
    if not filename.lower().endswith(ALLOWED_EXTENSIONS):
        raise ValidationError({"file": _("Upload a .csv file (or .txt / .tsv).")})
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            {"file": _("The file is larger than %(mb)d MB; split it.") % {"mb": MAX_UPLOAD_BYTES // 2**20}}
        )
    try:
        info = inspect(data)
    except CsvInvalid as exc:
        raise ValidationError({"file": str(exc)}) from None
    return ImportJob.objects.create(
        kind=kind,
        data=data,
        filename=filename[:255],
        size=len(data),
        encoding=info.encoding,
        delimiter=info.delimiter,
        header=info.header,
        mapping=suggest_mapping(kind, info.header),
        total_rows=info.total_rows,
        created_by=by,
    )


def import_configure(*, job: ImportJob, mapping: dict, dedup: str) -> ImportJob:
    if job.state not in (ImportJob.State.UPLOADED, ImportJob.State.MAPPED):
        raise ValidationError(_("This import has already started."))
    if dedup not in ImportJob.Dedup.values:
        raise ValidationError({"dedup": _("Choose update or skip.")})
    try:
        job.mapping = validate_mapping(job.kind, job.header, mapping)
    except CsvInvalid as exc:
        raise ValidationError({"mapping": str(exc)}) from None
    job.dedup = dedup
    job.state = ImportJob.State.MAPPED
    job.save(update_fields=["mapping", "dedup", "state"])
    return job


@transaction.atomic
def import_start(*, job: ImportJob) -> ImportJob:
    """Queue a mapped job; the task is sent once the transaction commits."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.MAPPED).update(
        state=ImportJob.State.QUEUED, queued_at=now, heartbeat_at=now
    )
    if not claimed:
        raise ValidationError(_("Only an import with a column mapping can be started."))
    audit_record(
        actor=job.created_by,
        action=Action.IMPORT,
        target=job,
        kind=job.kind,
        rows=job.total_rows,
        dedup=job.dedup,
    )
    transaction.on_commit(partial(enqueue, job.pk))
    job.state, job.queued_at, job.heartbeat_at = ImportJob.State.QUEUED, now, now
    return job


@transaction.atomic
def import_retry(*, job: ImportJob) -> ImportJob:
    """Queue a failed job again; it resumes after its last committed batch."""
    now = timezone.now()
    if not ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.FAILED).update(
        state=ImportJob.State.QUEUED, error="", heartbeat_at=now, finished_at=None
    ):
        raise ValidationError(_("Only a failed import can be resumed."))
    transaction.on_commit(partial(enqueue, job.pk))
    job.refresh_from_db(fields=["state", "error", "heartbeat_at", "finished_at"])
    return job


def enqueue(job_id: int) -> None:
    from imports.tasks import run_import

    try:
        run_import.delay(job_id)
    except Exception:  # noqa: BLE001 — the broker being down must not fail the request
        logger.warning("Could not queue import %s; the periodic check will.", job_id, exc_info=True)


def import_run(*, job_id: int, budget_seconds: float | None = None, batch_size: int = BATCH_ROWS) -> bool:
    """Work on a job until it is done or the budget is spent; True when there is more to do.
    A job that is done, failed or held by another worker at the moment is left alone."""
    started = time.monotonic()
    now = timezone.now()
    ImportJob.objects.filter(pk=job_id, state=ImportJob.State.QUEUED).update(
        state=ImportJob.State.RUNNING, started_at=now, heartbeat_at=now
    )
    job = ImportJob.objects.filter(pk=job_id, state=ImportJob.State.RUNNING).first()
    if job is None:
        return False
    processor = processor_for(job)
    cursor = _RowCursor(job)
    while True:
        try:
            status = _run_batch(job, processor, cursor, batch_size)
        except Exception as exc:
            logger.exception("Import %s failed", job_id)
            _record_failure(job_id, exc)
            return False
        if status != "more":
            return False
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            return True


def _run_batch(job: ImportJob, processor, cursor: _RowCursor, batch_size: int) -> str:
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _run_batch_once(job, processor, cursor, batch_size)
        except IntegrityError:
            # A contact with one of the batch's emails was created meanwhile (the API, another
            # import): the batch rolled back whole; the second attempt sees it and dedups.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _run_batch_once(job: ImportJob, processor, cursor: _RowCursor, batch_size: int) -> str:
    if connection.vendor == "postgresql":
        # The batch and its cursor commit together, so a commit lost in a server crash is lost
        # whole and redone by the rerun; not waiting for the WAL flush saves ~0.1 s a batch.
        with connection.cursor() as db:
            db.execute("SET LOCAL synchronous_commit TO OFF")
    locked = (
        ImportJob.objects.select_for_update(skip_locked=True)
        .only("state", "processed_rows", "total_rows")
        .filter(pk=job.pk)
        .first()
    )
    if locked is None or locked.state != ImportJob.State.RUNNING:
        return "stop"
    rows = cursor.take(locked.processed_rows, batch_size)
    now = timezone.now()
    if not rows:
        ImportJob.objects.filter(pk=job.pk).update(
            state=ImportJob.State.DONE, finished_at=now, heartbeat_at=now
        )
        return "done"
    result = processor.process(rows)
    ImportRejection.objects.bulk_create(
        [
            ImportRejection(job_id=job.pk, row_number=index + 2, reason=reason[:2000], raw=cells)
            for index, reason, cells in result.rejections
        ]
    )
    finished = len(rows) < batch_size
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + len(rows),
        created=F("created") + result.created,
        updated=F("updated") + result.updated,
        skipped=F("skipped") + result.skipped,
        rejected=F("rejected") + len(result.rejections),
        heartbeat_at=now,
        **({"state": ImportJob.State.DONE, "finished_at": now} if finished else {}),
    )
    return "done" if finished else "more"


class _RowCursor:
    """The file's rows, read forward once; reopened only if asked for rows behind its position."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.rows = None
        self.position = 0

    def take(self, start: int, count: int) -> list[tuple[int, list[str]]]:
        if self.rows is None or start < self.position:
            self.rows = read_rows(self.job.data, self.job.encoding, self.job.delimiter, start=start)
            self.position = start
        out = []
        for index, row in self.rows:
            if index < start:
                continue
            out.append((index, row))
            if len(out) == count:
                break
        self.position = start + len(out)
        return out


def _record_failure(job_id: int, exc: Exception) -> None:
    text = f"{type(exc).__name__}: {exc}"[:2000]
    ImportJob.objects.filter(pk=job_id).exclude(state=ImportJob.State.DONE).update(
        state=ImportJob.State.FAILED, error=text, finished_at=timezone.now()
    )


def import_resume_stalled(*, now: datetime | None = None) -> list[int]:
    """Queue jobs no worker is on: running without a committed batch for ``STALLED_AFTER`` (the
    worker died) or queued for ``UNCLAIMED_AFTER`` without being taken (the broker was down or lost
    the message). A job that is in fact still being worked on is not harmed by a second task: the
    batches are serialised by the row lock and each starts at the committed cursor."""
    now = now or timezone.now()
    stalled = list(
        ImportJob.objects.filter(
            state=ImportJob.State.RUNNING, heartbeat_at__lt=now - STALLED_AFTER
        ).values_list("pk", flat=True)
    )
    unclaimed = list(
        ImportJob.objects.filter(
            state=ImportJob.State.QUEUED, heartbeat_at__lt=now - UNCLAIMED_AFTER
        ).values_list("pk", flat=True)
    )
    ids = stalled + unclaimed
    if ids:
        # Not again at the next check: the new task gets its own grace period.
        ImportJob.objects.filter(pk__in=ids).update(heartbeat_at=now)
        for job_id in ids:
            enqueue(job_id)
    return ids
