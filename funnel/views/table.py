"""The funnel table: one row per stage, its five text columns and the live figures.

Everyone with a role reads it; marketing and admin edit the stage name and the texts in place. A
click on a cell asks ``stage_cell_edit`` for the row with that cell as a form (HTMX swaps the whole
``<tr>``); Save posts it back and gets the read-only row, or the form again with its errors; Esc or
Cancel fetches the read-only row from ``stage_row``. The same views answer plain requests with the
full page (the cell open as a form) or a redirect, so the table works without JavaScript too.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from accounts import roles
from accounts.decorators import role_required
from analytics.selectors import funnel_figures, refresh
from config.web import wants_fragment
from funnel.models import STAGE_TEXT_COLUMNS, Stage
from funnel.selectors import stage_list_with_counts as stage_counts
from funnel.services import stage_update_texts

EDITABLE_COLUMNS = ("name", *STAGE_TEXT_COLUMNS)
# The metric column's live figures cover this many days up to today.
LIVE_DAYS = 30


def stage_list_with_counts() -> list[Stage]:
    """The stages with their counts and, as ``live``, this period's figures (analytics.selectors):
    entered in the last LIVE_DAYS days and conversion to the next stage, shown in the metric column."""
    refresh()
    stages = stage_counts()
    today = timezone.localdate()
    since = today - timedelta(days=LIVE_DAYS - 1)
    figures = {f.key: f for f in funnel_figures(since=since, until=today, stages=stages)}
    for index, stage in enumerate(stages):
        stage.live = figures.get(stage.key)
        stage.has_next = index + 1 < len(stages)
    return stages


@require_GET
@role_required(roles.WORK_CONTACTS)
def funnel_table(request):
    return render(request, "funnel/table.html", _page_context(stage_list_with_counts()))


@require_GET
@vary_on_headers("HX-Request")
@role_required(roles.WORK_CONTACTS)
def stage_row(request, pk: int):
    """The read-only row of one stage: what Esc and Cancel swap back in."""
    stages = stage_list_with_counts()
    stage = _find(stages, pk)
    if not wants_fragment(request):
        return redirect(_row_url(stage))
    return render(
        request, "funnel/_stage_row.html", {"stage": stage, "columns": _columns(), "live_days": LIVE_DAYS}
    )


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")  # one URL, two answers: keep caches (and the back button) apart
@role_required(roles.EDIT_FUNNEL)
def stage_cell_edit(request, pk: int, column: str):
    """GET: the row with one cell as a form. POST: save that cell through the stage service."""
    if column not in EDITABLE_COLUMNS:
        raise Http404
    stages = stage_list_with_counts()
    stage = _find(stages, pk)

    if request.method == "POST":
        form = StageCellForm(column, request.POST)
        if form.is_valid():
            try:
                stage_update_texts(stage=stage, **{column: form.cleaned_data[column]})
            except ValidationError as exc:
                form.add_error(column, exc.messages)
            else:
                if not wants_fragment(request):
                    messages.success(request, _("Saved."))
                    return redirect(_row_url(stage))
                # A new name also changes the drawing and the legend above the table: send that
                # section along, for HTMX to swap out of band.
                context = {"stage": stage, "refresh_overview": column == "name", **_page_context(stages)}
                return render(request, "funnel/_stage_row.html", context)
    else:
        form = StageCellForm(column, initial={column: getattr(stage, column)})

    editing = {"editing_stage_id": stage.pk, "editing_column": column, "form": form}
    if wants_fragment(request):
        context = {"stage": stage, "columns": _columns(), "live_days": LIVE_DAYS, **editing}
        return render(request, "funnel/_stage_row.html", context)
    status = 400 if form.is_bound else 200
    return render(request, "funnel/table.html", {**_page_context(stages), **editing}, status=status)


class StageCellForm(forms.Form):
    """One editable column of a stage, with the field (and its limits) taken from the model."""

    def __init__(self, column: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.column = column
        model_field = Stage._meta.get_field(column)
        field = model_field.formfield()
        field.label = model_field.verbose_name
        field.widget.attrs.update({"autofocus": True, "class": "cell-input"})
        if isinstance(field.widget, forms.Textarea):
            field.widget.attrs["rows"] = 5
        self.fields[column] = field

    @property
    def bound_field(self):
        return self[self.column]


def _page_context(stages: list[Stage]) -> dict:
    return {
        "stages": stages,
        "live_days": LIVE_DAYS,
        "columns": _columns(),
        "total_contacts": sum(s.contact_count for s in stages),
    }


def _columns() -> list[tuple[str, str]]:
    return [(name, Stage._meta.get_field(name).verbose_name) for name in STAGE_TEXT_COLUMNS]


def _find(stages: list[Stage], pk: int) -> Stage:
    for stage in stages:
        if stage.pk == pk:
            return stage
    raise Http404


def _row_url(stage: Stage) -> str:
    return f"{reverse('funnel:table')}#stage-{stage.pk}"


urlpatterns = [
    path("", funnel_table, name="table"),
    path("stages/<int:pk>/row/", stage_row, name="stage-row"),
    path("stages/<int:pk>/<slug:column>/edit/", stage_cell_edit, name="stage-cell-edit"),
]
