"""Reads of import jobs. Every one defers the stored file: a progress poll must not load 50 MB."""

from django.db.models import QuerySet

from imports.models import ImportJob, ImportRejection


def import_jobs() -> QuerySet[ImportJob]:
    return ImportJob.objects.defer("data").select_related("created_by")


def import_rejections(*, job: ImportJob) -> QuerySet[ImportRejection]:
    return ImportRejection.objects.filter(job=job).order_by("row_number", "id")


def rejections_csv_rows(*, job: ImportJob):
    """Header and rows of the rejected-rows download: the original columns, then ``reason`` and
    ``row``, so that the file can be corrected and imported again."""
    width = len(job.header)
    header = [*job.header, "reason", "row"]

    def rows():
        for rejection in import_rejections(job=job).iterator(chunk_size=2000):
            cells = list(rejection.raw)[:width]
            yield [*cells, *[""] * (width - len(cells)), rejection.reason, rejection.row_number]

    return header, rows()
