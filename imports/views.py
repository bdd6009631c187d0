"""The import pages: upload → column mapping with a preview → the job page, whose progress section
polls itself every second (HTMX) until the job ends and then shows the report. Marketing and admin
(``roles.EDIT_FUNNEL``) import; every write goes through ``imports.services``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.decorators import role_required
from config.csv import csv_stream_response, spreadsheet_locale
from config.web import add_service_errors, render_page
from imports import selectors, services
from imports.forms import MappingForm, UploadForm
from imports.models import MAX_UPLOAD_BYTES, ImportJob
from imports.parsing import preview

REPORT_REJECTIONS = 20


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        if upload_file.size > services.MAX_UPLOAD_BYTES:
            form.add_error(
                "file", _("The file is larger than %(mb)d MB; split it.") % {"mb": MAX_UPLOAD_BYTES // 2**20}
            )
        else:
            try:
                job = services.import_upload(
                    kind=form.cleaned_data["kind"],
                    filename=upload_file.name,
                    data=upload_file.read(),
                    by=request.user,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return redirect("imports:mapping", pk=job.pk)
    context = {"form": form, "jobs": selectors.import_jobs()[:20], "max_mb": MAX_UPLOAD_BYTES // 2**20}
    return render(request, "imports/upload.html", context, status=400 if form.errors else 200)


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def mapping(request, pk: int):
    job = get_object_or_404(ImportJob, pk=pk)  # with the file: the preview reads it
    if job.state not in (ImportJob.State.UPLOADED, ImportJob.State.MAPPED):
        return redirect("imports:detail", pk=job.pk)
    form = MappingForm(request.POST or None, job=job)
    if request.method == "POST" and form.is_valid():
        try:
            services.import_configure(job=job, mapping=form.mapping(), dedup=form.cleaned_data["dedup"])
            services.import_start(job=job)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The import has started."))
            return redirect("imports:detail", pk=job.pk)
    rows = preview(job.data, job.encoding, job.delimiter, len(job.header))
    context = {
        "job": job,
        "form": form,
        "preview": rows,
        "delimiter_name": {",": _("comma"), ";": _("semicolon"), "\t": _("tab")}.get(
            job.delimiter, job.delimiter
        ),
    }
    return render(request, "imports/mapping.html", context, status=400 if form.errors else 200)


@role_required(roles.EDIT_FUNNEL)
@require_GET
def detail(request, pk: int):
    """The job page; HTMX polls get only the ``#import-progress`` section."""
    job = get_object_or_404(selectors.import_jobs(), pk=pk)
    context = {
        "job": job,
        "rejections": list(selectors.import_rejections(job=job)[:REPORT_REJECTIONS]),
        "report_limit": REPORT_REJECTIONS,
    }
    return render_page(request, "imports/detail.html", "imports/_progress.html", context)


@role_required(roles.EDIT_FUNNEL)
@require_POST
def retry(request, pk: int):
    job = get_object_or_404(selectors.import_jobs(), pk=pk)
    try:
        services.import_retry(job=job)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The import continues after the last saved batch."))
    return redirect("imports:detail", pk=job.pk)


@role_required(roles.EDIT_FUNNEL)
@require_GET
def rejections_csv(request, pk: int):
    job = get_object_or_404(selectors.import_jobs(), pk=pk)
    header, rows = selectors.rejections_csv_rows(job=job)
    return csv_stream_response(f"import-{job.pk}-rejected.csv", header, rows, locale=spreadsheet_locale())
