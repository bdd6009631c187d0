"""The analytics page: funnel figures, breakdowns, series and cohorts of a period, and their CSVs.

One GET form (``#analytics-form``) carries the whole state in the query string, so every view of
the page can be bookmarked and shared: the period (a month, a quarter, a year or custom dates), the
breakdown dimension and the cohorts' target stage. The dimension and stage selects sit in their
sections but belong to the form (``form="analytics-form"``), so a change anywhere sends everything.
With HTMX a period change swaps all figures, a dimension or stage change only its section (the view
looks at ``HX-Target``); without JavaScript the same form reloads the page.

Everything is read from the pre-aggregated figures (analytics.selectors), so the page runs a fixed
number of queries whatever the number of contacts. Charts are Chart.js configs built here and handed
to static/js/charts.js through ``json_script``: no inline scripts, user text only inside JSON.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts import roles
from accounts.decorators import role_required
from analytics import selectors
from analytics.fold import COHORT_STAGE
from analytics.models import BREAKDOWNS, StageDay
from audit.services import audit_export
from config.csv import csv_response, spreadsheet_locale
from config.web import wants_fragment
from funnel.models import Stage
from funnel.templatetags.funnel_tags import STAGE_COLOURS, SVG_ROW_HEIGHT, SVG_WIDTH, funnel_drawing

# How far a custom period may reach: the weekly chart then has ~520 points, still readable.
MAX_PERIOD_DAYS = 3_660
OLDEST_YEAR = 2000
YEARS_OFFERED = 10
QUARTERS_OFFERED = 12
COHORT_HORIZON = 12
# The cohort table shows at least this many months up to the end of the period: a single month's
# cohort says little on its own.
COHORT_MIN_MONTHS = 12
DEFAULT_COHORT_TARGET = "customer"
# Breakdown rows shown on the page; the CSV has all of them.
BREAKDOWN_ROWS = 50
# The entries funnel: room right of the drawing for the conversion between bands.
SVG_LABEL_WIDTH = 72
# Cohort cells are shaded in these share steps (CSS classes heat-0 … heat-5).
HEAT_STEPS = (0.2, 0.4, 0.6, 0.8)

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")

CSV_KINDS = ("summary", "entries", "conversion", "breakdown", "cohorts")


# --- The period -----------------------------------------------------------------------------------


@dataclass
class Selection:
    """What the page shows: a period (``until`` cut at today) and the breakdown and cohort choices."""

    kind: str
    since: date
    until: date
    label: str
    params: list[tuple[str, str]]  # the period in the query string: (name, value)
    dimension: str
    cohort_stage: str
    cut: bool = False  # the period runs past today; the figures are "so far"

    @property
    def period(self) -> selectors.Period:
        return selectors.Period(self.since, self.until)

    @property
    def query(self) -> str:
        return urlencode(self.params)


class PeriodForm(forms.Form):
    """The period, the breakdown and the cohorts' target stage, from the query string. Every field may
    be left out (the current month, by source, customers); a value that is there must be valid."""

    MONTH, QUARTER, YEAR, CUSTOM = "month", "quarter", "year", "custom"
    KINDS = [
        (MONTH, gettext_lazy("Month")),
        (QUARTER, gettext_lazy("Quarter")),
        (YEAR, gettext_lazy("Year")),
        (CUSTOM, gettext_lazy("Custom dates")),
    ]

    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=KINDS, required=False)
    month = forms.CharField(
        label=gettext_lazy("Month"),
        required=False,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}"}),
    )
    quarter = forms.CharField(label=gettext_lazy("Quarter"), required=False, widget=forms.Select)
    year = forms.IntegerField(label=gettext_lazy("Year"), required=False, widget=forms.Select)
    since = forms.DateField(
        label=gettext_lazy("First day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        label=gettext_lazy("Last day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    dimension = forms.ChoiceField(
        label=gettext_lazy("Break down by"), choices=[(d.value, d.label) for d in BREAKDOWNS], required=False
    )
    stage = forms.ChoiceField(label=gettext_lazy("Target stage"), required=False)

    def __init__(self, *args, stages: list[Stage], **kwargs):
        super().__init__(*args, **kwargs)
        self.today = timezone.localdate()
        self.fields["year"].validators.append(_year_validator(self.today.year))
        self.fields["stage"].choices = [(s.key, s.name) for s in cohort_targets(stages)]
        self._offer_choices(self.data if self.is_bound else self.initial)

    def _offer_choices(self, values):
        """Recent quarters and years as select options, plus a valid older one (from a bookmark)."""
        today = self.today
        quarters = []
        year, q = today.year, (today.month - 1) // 3 + 1
        for _i in range(QUARTERS_OFFERED):
            quarters.append((f"{year}-Q{q}", quarter_label(year, q)))
            year, q = (year, q - 1) if q > 1 else (year - 1, 4)
        years = [(y, str(y)) for y in range(today.year, today.year - YEARS_OFFERED, -1)]
        asked = str(values.get("quarter") or "")
        match = QUARTER_RE.match(asked)
        if match and asked not in dict(quarters) and OLDEST_YEAR <= int(match[1]) <= today.year:
            quarters.append((asked, quarter_label(int(match[1]), int(match[2]))))
        asked_year = str(values.get("year") or "")
        if asked_year.isdigit() and OLDEST_YEAR <= int(asked_year) <= today.year - YEARS_OFFERED:
            years.append((int(asked_year), asked_year))
        self.fields["quarter"].widget.choices = quarters
        self.fields["year"].widget.choices = years

    def clean_month(self):
        value = self.cleaned_data["month"]
        if not value:
            return None
        match = MONTH_RE.match(value)
        if not match or not 1 <= int(match[2]) <= 12 or not OLDEST_YEAR <= int(match[1]) <= self.today.year:
            raise forms.ValidationError(
                _("Enter a month as YYYY-MM, from %(year)s on.") % {"year": OLDEST_YEAR}
            )
        return (int(match[1]), int(match[2]))

    def clean_quarter(self):
        value = self.cleaned_data["quarter"]
        if not value:
            return None
        match = QUARTER_RE.match(value)
        if not match or not OLDEST_YEAR <= int(match[1]) <= self.today.year:
            raise forms.ValidationError(_("Choose a quarter from the list."))
        return (int(match[1]), int(match[2]))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        today = self.today
        kind = data.get("period") or self.MONTH
        if kind == self.MONTH:
            year, month = data.get("month") or (today.year, today.month)
            since = date(year, month, 1)
            until = date(year, month, calendar.monthrange(year, month)[1])
            label = date_format(since, "YEAR_MONTH_FORMAT")
            params, field = [("period", kind), ("month", f"{year:04d}-{month:02d}")], "month"
        elif kind == self.QUARTER:
            year, q = data.get("quarter") or (today.year, (today.month - 1) // 3 + 1)
            since = date(year, 3 * q - 2, 1)
            until = date(year, 3 * q, calendar.monthrange(year, 3 * q)[1])
            label = quarter_label(year, q)
            params, field = [("period", kind), ("quarter", f"{year:04d}-Q{q}")], "quarter"
        elif kind == self.YEAR:
            year = data.get("year") or today.year
            since, until = date(year, 1, 1), date(year, 12, 31)
            label = str(year)
            params, field = [("period", kind), ("year", str(year))], "year"
        else:
            since, until = data.get("since"), data.get("until")
            for name, value in (("since", since), ("until", until)):
                if value is None:
                    self.add_error(name, _("Enter a date."))
            if since is None or until is None:
                return data
            if since > until:
                self.add_error("until", _("The end must not be before the start."))
                return data
            label = _("%(since)s to %(until)s") % {
                "since": date_format(since, "DATE_FORMAT"),
                "until": date_format(until, "DATE_FORMAT"),
            }
            params, field = (
                [("period", kind), ("since", since.isoformat()), ("until", until.isoformat())],
                "since",
            )
        if since > today:
            self.add_error(field, _("This period has not begun yet."))
            return data
        if since.year < OLDEST_YEAR:
            self.add_error(field, _("Choose a period from %(year)s on.") % {"year": OLDEST_YEAR})
            return data
        cut = until > today
        until = min(until, today)
        if (until - since).days + 1 > MAX_PERIOD_DAYS:
            self.add_error(field, _("Choose a period of at most ten years."))
            return data
        dimension = data.get("dimension") or BREAKDOWNS[0].value
        targets = [key for key, _name in self.fields["stage"].choices]
        stage = data.get("stage") or (DEFAULT_COHORT_TARGET if DEFAULT_COHORT_TARGET in targets else "")
        if not stage and targets:
            stage = targets[0]
        data["selection"] = Selection(
            kind=kind,
            since=since,
            until=until,
            label=label,
            params=params,
            dimension=dimension,
            cohort_stage=stage,
            cut=cut,
        )
        return data

    def period_fields(self):
        """The period pickers, in order (the dimension and stage selects sit in their sections)."""
        return [self[name] for name in ("period", "month", "quarter", "year", "since", "until")]

    def error_text(self) -> str:
        """The errors on one line, for the plain-text 400 of the CSV downloads."""
        parts = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else _("Period")
            parts.append(f"{label}: {' '.join(errors)}")
        return "; ".join(parts)


def _year_validator(latest: int):
    def validate(value):
        if value is not None and not OLDEST_YEAR <= value <= latest:
            raise forms.ValidationError(
                _("Choose a year from %(first)s to %(last)s.") % {"first": OLDEST_YEAR, "last": latest}
            )

    return validate


def quarter_label(year: int, quarter: int) -> str:
    return _("Q%(quarter)s %(year)s") % {"quarter": quarter, "year": year}


def cohort_targets(stages: list[Stage]) -> list[Stage]:
    """The stages a lead cohort can be followed to: those after the cohort stage."""
    keys = [s.key for s in stages]
    if COHORT_STAGE not in keys:
        return []
    return stages[keys.index(COHORT_STAGE) + 1 :]


# --- Views ----------------------------------------------------------------------------------------


@require_GET
@role_required(roles.WORK_CONTACTS)
def figures_page(request):
    selectors.refresh()
    stages = list(Stage.objects.order_by("position"))
    form = PeriodForm(request.GET, stages=stages)
    context = {"form": form, "display_form": form, "stages": stages}
    fragment = wants_fragment(request)
    if not form.is_valid():
        # Plain requests get a 400 with the errors on the form. An HTMX swap gets them at 200 in place
        # of all figures (htmx does not swap error responses, so a 400 would show nothing).
        if not fragment:
            return _vary(render(request, "analytics/figures.html", context, status=400))
        response = render(request, "analytics/_figures_results.html", context)
        response["HX-Retarget"] = "#analytics-figures"
        response["HX-Reswap"] = "outerHTML"
        return _vary(response)
    selection = form.cleaned_data["selection"]
    context["selection"] = selection
    context["display_form"] = _display_form(selection, stages)
    target = request.htmx.target if fragment else None
    if target == "analytics-breakdown":
        context.update(_breakdown_context(selection, stages))
        return _vary(render(request, "analytics/_figures_breakdown.html", context))
    if target == "analytics-cohorts":
        context.update(_cohort_context(selection, stages))
        return _vary(render(request, "analytics/_figures_cohorts.html", context))
    context.update(_figures_context(selection, stages))
    template = "analytics/_figures_results.html" if fragment else "analytics/figures.html"
    return _vary(render(request, template, context))


@require_GET
@role_required(roles.WORK_CONTACTS)
def figures_csv(request, kind: str):
    if kind not in CSV_KINDS:
        raise Http404
    stages = list(Stage.objects.order_by("position"))
    form = PeriodForm(request.GET, stages=stages)
    if not form.is_valid():
        return HttpResponse(
            _("Invalid parameters: %(errors)s") % {"errors": form.error_text()},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    selectors.refresh()
    selection = form.cleaned_data["selection"]
    header, rows, suffix = CSV_WRITERS[kind](selection, stages)
    name = f"trichter-{kind}{suffix}-{selection.since.isoformat()}-{selection.until.isoformat()}.csv"
    audit_export(actor=request.user, what=f"analytics:{kind}.csv", params=request.GET)
    return csv_response(name, header, rows, locale=spreadsheet_locale())


def _vary(response):
    # One URL, several answers: the page, its figures, or one section of them.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _display_form(selection: Selection, stages: list[Stage]) -> PeriodForm:
    """The form as the page shows it after a valid request: every picker set to the period shown, so
    that switching from a month to custom dates starts from that month."""
    p = dict(selection.params)
    initial = {
        "period": selection.kind,
        "month": p.get("month", f"{selection.since:%Y-%m}"),
        "quarter": p.get("quarter", f"{selection.since.year}-Q{(selection.since.month - 1) // 3 + 1}"),
        "year": int(p.get("year", selection.since.year)),
        "since": selection.since,
        "until": selection.until,
        "dimension": selection.dimension,
        "stage": selection.cohort_stage,
    }
    return PeriodForm(initial=initial, stages=stages)


# --- The page's parts -----------------------------------------------------------------------------


def _figures_context(selection: Selection, stages: list[Stage]) -> dict:
    p = selection.period
    rows = selectors.daily_rows(p)
    figures = selectors.funnel_figures(since=p.since, until=p.until, rows=rows)
    if not rows and not StageDay.objects.exists():
        return {"fresh": True, "figures": figures}
    weekly = selectors.entries_by_week(p, rows, stages)
    monthly = selectors.conversion_by_month(p, rows, stages)
    entered_any = any(f.entered for f in figures)
    return {
        "fresh": False,
        "figures": figures,
        "entered_any": entered_any,
        "funnel": _funnel_svg(figures),
        "weekly": _series_table(weekly, week=True),
        "monthly": _series_table(monthly, week=False),
        "weekly_chart": _weekly_chart(weekly),
        "monthly_chart": _monthly_chart(monthly),
        **_breakdown_context(selection, stages),
        **_cohort_context(selection, stages),
    }


def _funnel_svg(figures) -> dict:
    """The entries funnel: the funnel table's drawing (same shapes and colours), each band with the
    period's entrants, and right of it the conversion from each band to the next."""
    drawing = funnel_drawing(figures)
    bands = []
    for shape, figure in zip(drawing["shapes"], figures, strict=True):
        top = shape["name_y"] - (SVG_ROW_HEIGHT / 2 - 4)  # the band's upper edge (see funnel_drawing)
        # Baseline just below the band's lower edge: the rate sits on the boundary to the next band.
        bands.append({**shape, "figure": figure, "conversion_y": top + SVG_ROW_HEIGHT + 6})
    return {
        "bands": bands,
        "width": SVG_WIDTH + SVG_LABEL_WIDTH,
        "height": drawing["height"],
        "centre": drawing["centre"],
        "label_x": SVG_WIDTH + 10,
    }


def _series_table(series: selectors.Series, *, week: bool) -> dict:
    fmt = "SHORT_DATE_FORMAT" if week else "YEAR_MONTH_FORMAT"
    return {
        "stages": [name for _key, name in series.stages],
        "rows": [
            {
                "label": date_format(bucket, fmt),
                "values": [series.values[key][i] for key, _name in series.stages],
            }
            for i, bucket in enumerate(series.buckets)
        ],
    }


def _chart_options(*, y: dict) -> dict:
    return {
        "responsive": True,
        "maintainAspectRatio": False,
        "animation": False,  # print and screenshots show the finished chart
        "interaction": {"mode": "index", "intersect": False},
        "plugins": {"legend": {"position": "bottom"}},
        "scales": {"y": y},
    }


def _weekly_chart(series: selectors.Series) -> dict:
    return {
        "type": "line",
        "data": {
            "labels": [date_format(b, "SHORT_DATE_FORMAT") for b in series.buckets],
            "datasets": [
                {
                    "label": name,
                    "data": series.values[key],
                    "borderColor": STAGE_COLOURS[i % len(STAGE_COLOURS)],
                    "backgroundColor": STAGE_COLOURS[i % len(STAGE_COLOURS)],
                    "cubicInterpolationMode": "monotone",
                    "pointRadius": 2,
                }
                for i, (key, name) in enumerate(series.stages)
            ],
        },
        "options": _chart_options(y={"beginAtZero": True, "ticks": {"precision": 0}}),
    }


def _monthly_chart(series: selectors.Series) -> dict:
    return {
        "type": "line",
        "data": {
            "labels": [date_format(b, "YEAR_MONTH_FORMAT") for b in series.buckets],
            "datasets": [
                {
                    "label": name,
                    "data": [None if v is None else round(v * 100, 1) for v in series.values[key]],
                    "borderColor": STAGE_COLOURS[i % len(STAGE_COLOURS)],
                    "backgroundColor": STAGE_COLOURS[i % len(STAGE_COLOURS)],
                    "cubicInterpolationMode": "monotone",
                    "pointRadius": 3,
                    "spanGaps": False,
                }
                for i, (key, name) in enumerate(series.stages)
            ],
        },
        "options": _chart_options(y={"min": 0, "max": 100}),
    }


def _breakdown_context(selection: Selection, stages: list[Stage]) -> dict:
    rows = selectors.funnel_breakdown(
        dimension=selection.dimension, since=selection.since, until=selection.until, stages=stages
    )
    shown = [
        {
            "label": row.label,
            "cells": [(row.entered.get(s.key, 0), row.conversion.get(s.key)) for s in stages],
        }
        for row in rows[:BREAKDOWN_ROWS]
    ]
    return {
        "breakdown_rows": shown,
        "breakdown_more": max(len(rows) - BREAKDOWN_ROWS, 0),
        "breakdown_label": dict((d.value, d.label) for d in BREAKDOWNS)[selection.dimension],
        "dimensions": [(d.value, d.label) for d in BREAKDOWNS],
    }


def cohort_window(selection: Selection) -> selectors.Period:
    """The period's months, widened back to COHORT_MIN_MONTHS months ending with its last month."""
    last = selectors.month_start(selection.until)
    earliest = selectors._add_months(last, -(COHORT_MIN_MONTHS - 1))
    return selectors.Period(min(selectors.month_start(selection.since), earliest), selection.until)


def _cohort_context(selection: Selection, stages: list[Stage]) -> dict:
    window = cohort_window(selection)
    target = selection.cohort_stage
    rows = []
    for cohort in selectors.cohorts(window, horizon=COHORT_HORIZON, stages=stages):
        shares = cohort.reached.get(target, [])
        cells = []
        for k in range(COHORT_HORIZON + 1):
            if k >= len(shares):
                cells.append(None)  # beyond today
            else:
                cells.append({"share": shares[k] if cohort.size else None, "heat": _heat(shares[k])})
        rows.append({"month": cohort.month, "size": cohort.size, "cells": cells})
    targets = cohort_targets(stages)
    return {
        "cohort_rows": rows,
        "cohort_any": any(r["size"] for r in rows),
        "cohort_offsets": list(range(COHORT_HORIZON + 1)),
        "cohort_targets": [(s.key, s.name) for s in targets],
        "cohort_target_name": next((s.name for s in targets if s.key == target), target),
        "cohort_since": window.since,
        "cohort_until": selectors.month_start(window.until),
    }


def _heat(share: float) -> int:
    if not share:
        return 0
    return 1 + sum(share >= step for step in HEAT_STEPS)


# --- CSV ------------------------------------------------------------------------------------------


def _share(value: float | None):
    return None if value is None else round(value, 4)


def _csv_summary(selection: Selection, stages: list[Stage]):
    figures = selectors.funnel_figures(since=selection.since, until=selection.until)
    header = [
        _("Stage"),
        _("In the stage now"),
        _("Entries"),
        _("Passed the next stage"),
        _("Conversion to next (share)"),
        _("Cumulative conversion (share)"),
        _("Median days in stage"),
        _("90th percentile of days in stage"),
    ]
    rows = [
        [
            f.name,
            f.count,
            f.entered,
            f.converted,
            _share(f.conversion_to_next),
            _share(f.cumulative_conversion),
            f.median_days_in_stage,
            f.p90_days_in_stage,
        ]
        for f in figures
    ]
    return header, rows, ""


def _csv_series(series: selectors.Series, first: str, *, rate: bool):
    header = [first, *(name for _key, name in series.stages)]
    rows = [
        [
            bucket,
            *(
                (_share(series.values[key][i]) if rate else series.values[key][i])
                for key, _n in series.stages
            ),
        ]
        for i, bucket in enumerate(series.buckets)
    ]
    return header, rows


def _csv_entries(selection: Selection, stages: list[Stage]):
    return (
        *_csv_series(
            selectors.entries_by_week(selection.period, stages=stages), _("Week (Monday)"), rate=False
        ),
        "",
    )


def _csv_conversion(selection: Selection, stages: list[Stage]):
    series = selectors.conversion_by_month(selection.period, stages=stages)
    return (*_csv_series(series, _("Month of entry"), rate=True), "")


def _csv_breakdown(selection: Selection, stages: list[Stage]):
    rows = selectors.funnel_breakdown(
        dimension=selection.dimension, since=selection.since, until=selection.until, stages=stages
    )
    label = dict((d.value, d.label) for d in BREAKDOWNS)[selection.dimension]
    header = [str(label)]
    for s in stages:
        header += [
            _("%(stage)s: entries") % {"stage": s.name},
            _("%(stage)s: conversion to next (share)") % {"stage": s.name},
        ]
    lines = []
    for row in rows:
        line = [row.label]
        for s in stages:
            line += [row.entered.get(s.key, 0), _share(row.conversion.get(s.key))]
        lines.append(line)
    return header, lines, f"-{selection.dimension}"


def _csv_cohorts(selection: Selection, stages: list[Stage]):
    window = cohort_window(selection)
    header = [_("Month became a lead"), _("Leads"), *(f"M+{k}" for k in range(COHORT_HORIZON + 1))]
    rows = []
    for cohort in selectors.cohorts(window, horizon=COHORT_HORIZON, stages=stages):
        shares = cohort.reached.get(selection.cohort_stage, [])
        cells = [
            _share(shares[k]) if k < len(shares) and cohort.size else None for k in range(COHORT_HORIZON + 1)
        ]
        rows.append([cohort.month, cohort.size, *cells])
    return header, rows, f"-{selection.cohort_stage}"


CSV_WRITERS = {
    "summary": _csv_summary,
    "entries": _csv_entries,
    "conversion": _csv_conversion,
    "breakdown": _csv_breakdown,
    "cohorts": _csv_cohorts,
}

urlpatterns = [
    path("analytics/", figures_page, name="figures"),
    path("analytics/csv/<slug:kind>/", figures_csv, name="csv"),
]
