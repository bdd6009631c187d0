"""The planning page and saved plans with plan-vs-actual.

The planning page goes from a revenue goal and an average order value back to the contacts each
stage needs (analytics.planning.funnel_plan, the formula of API.md), beside today's numbers and the
pace per month. Rates are prefilled from the measured conversion of the last year and can be
changed; the order value defaults to the average won offer. Everyone with a role may plan; marketing
and admins may save a plan (analytics.plans), which then has a page comparing it with the actual
entrants of its period (analytics.plan_selectors), a chart and a CSV download.

Saved plans are made by hand, a handful a year, so their list is not paginated.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.decorators import role_required
from analytics import plan_selectors, plans
from analytics.models import SavedPlan
from analytics.planning import PLAN_MEASURE_DAYS, PlanError, funnel_plan
from analytics.selectors import measured_rates, refresh
from config.csv import csv_response, spreadsheet_locale
from config.web import add_service_errors, render_page, wants_fragment
from funnel.models import Stage
from funnel.selectors import stage_contact_counts

# The chart of a plan shows this stage unless another is chosen.
DEFAULT_CHART_STAGE = plan_selectors.CUSTOMER_STAGE
CHART_PLAN_COLOUR = "#94a3b8"
CHART_ACTUAL_COLOUR = "#2563eb"


# --- Forms ----------------------------------------------------------------------------------------


def _positive(value):
    if value is not None and value <= 0:
        raise ValidationError(_("A rate must be more than 0 and at most 1."), code="min_value")


class PlanForm(forms.Form):
    """The inputs of a plan. A blank rate means the measured one."""

    revenue_goal = forms.DecimalField(
        label=gettext_lazy("revenue goal"), min_value=Decimal("0.01"), max_digits=18, decimal_places=2
    )
    average_order_value = forms.DecimalField(
        label=gettext_lazy("average order value"), min_value=Decimal("0.01"), max_digits=18, decimal_places=2
    )
    months = forms.IntegerField(label=gettext_lazy("in months"), min_value=1, max_value=60, initial=12)

    def __init__(self, *args, stages: list[Stage], measured: dict[str, float], **kwargs):
        super().__init__(*args, **kwargs)
        self.rate_keys = [s.key for s in stages[:-1]]
        for stage in stages[:-1]:
            # No fixed number of decimals: a measured rate is kept as measured, 1 of 3 included.
            self.fields[f"rate_{stage.key}"] = forms.DecimalField(
                label=_("%(stage)s → next") % {"stage": stage.name},
                required=False,
                max_value=Decimal("1"),
                validators=[_positive],
                help_text=_("measured: %(rate)s") % {"rate": _rate_text(measured[stage.key])}
                if stage.key in measured
                else _("nothing measured"),
            )

    def rates(self) -> dict[str, float]:
        return {
            key: float(value)
            for key in self.rate_keys
            if (value := self.cleaned_data.get(f"rate_{key}")) is not None
        }


class MonthInput(forms.DateInput):
    input_type = "month"

    def __init__(self, attrs=None):
        super().__init__(attrs={"placeholder": "YYYY-MM", **(attrs or {})}, format="%Y-%m")


class SavePlanForm(PlanForm):
    """A plan with its name and first month. On the planning page the plan's inputs travel as hidden
    fields (``hide_inputs``): what is saved is what was calculated, rates filled in included."""

    name = forms.CharField(
        label=gettext_lazy("name"), max_length=SavedPlan._meta.get_field("name").max_length
    )
    starts_on = forms.DateField(
        label=gettext_lazy("first month"),
        input_formats=["%Y-%m", "%Y-%m-%d"],
        widget=MonthInput,
        help_text=gettext_lazy("The plan runs from the first of this month."),
    )
    field_order = ["name", "starts_on", "months", "revenue_goal", "average_order_value"]

    def __init__(self, *args, hide_inputs: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if hide_inputs:
            for name, field in self.fields.items():
                if name not in ("name", "starts_on"):
                    field.widget = forms.HiddenInput()


# --- Views ----------------------------------------------------------------------------------------


@role_required(roles.WORK_CONTACTS)
@require_GET
def plan_page(request):
    refresh()
    stages = list(Stage.objects.order_by("position"))
    measured = measured_rates()
    bound = "revenue_goal" in request.GET
    initial = {"months": 12, "average_order_value": _default_order_value()}
    initial.update({f"rate_{key}": _rate_rounded(rate) for key, rate in measured.items()})
    form = PlanForm(request.GET if bound else None, initial=initial, stages=stages, measured=measured)
    context = _plan_page_context(request, form=form, stages=stages, measured=measured)
    status = 400 if bound and (not form.is_valid() or context["error"]) else 200
    return render(request, "analytics/plan.html", context, status=status)


@role_required(roles.EDIT_FUNNEL)
@require_POST
def plan_create(request):
    """The planning page's "Save this plan". Errors show on the planning page (400)."""
    refresh()
    stages = list(Stage.objects.order_by("position"))
    measured = measured_rates()
    save_form = SavePlanForm(request.POST, stages=stages, measured=measured, hide_inputs=True)
    if save_form.is_valid():
        plan = _save(request, save_form, plan=None, measured=measured)
        if plan is not None:
            messages.success(request, _("Plan “%(name)s” saved.") % {"name": plan.name})
            return redirect("analytics:plan-detail", pk=plan.pk)
    form = PlanForm(request.POST, stages=stages, measured=measured)
    context = _plan_page_context(request, form=form, stages=stages, measured=measured, save_form=save_form)
    return render(request, "analytics/plan.html", context, status=400)


@role_required(roles.WORK_CONTACTS)
@require_GET
def plan_list(request):
    today = timezone.localdate()
    rows = [
        {
            "plan": plan,
            "ends_on": plan_selectors.plan_end(plan),
            "status": plan_selectors.plan_status(plan, today),
        }
        for plan in SavedPlan.objects.select_related("created_by")
    ]
    return render(request, "analytics/plan_list.html", {"rows": rows})


@role_required(roles.WORK_CONTACTS)
@require_GET
def plan_detail(request, pk: int):
    """Plan vs actual. ``?stage=<key>`` picks the stage of the chart; HTMX gets only the chart."""
    plan = get_object_or_404(SavedPlan.objects.select_related("created_by"), pk=pk)
    refresh()
    progress = plan_selectors.plan_progress(plan=plan)
    keys = [row.key for row in progress.stages]
    chosen = request.GET.get("stage")
    if chosen not in keys:
        chosen = DEFAULT_CHART_STAGE if DEFAULT_CHART_STAGE in keys else (keys[-1] if keys else None)
    context = {"plan": plan, "progress": progress, "chart_stage": chosen, "chart": None, "chart_rows": []}
    if chosen:
        labels = [formats.date_format(month, "YEAR_MONTH_FORMAT") for month in progress.months]
        actual, planned = plan_selectors.cumulative_series(progress, chosen)
        context["chart"] = _chart_config(labels, actual, planned)
        context["chart_rows"] = [
            {"label": label, "planned": p, "actual": a}
            for label, p, a in zip(labels, planned, actual, strict=True)
        ]
    if not wants_fragment(request):
        # In funnel order (PostgreSQL's jsonb does not keep the keys' order).
        names = {row.key: row.name for row in progress.stages}
        keys = [key for key in names if key in plan.rates] + sorted(set(plan.rates) - set(names))
        context["rates"] = [
            {"label": _("%(stage)s → next") % {"stage": names.get(key, key)}, "rate": plan.rates[key]}
            for key in keys
        ]
        context["revenue_per_month"] = plan.revenue_goal / plan.months
    return render_page(request, "analytics/plan_detail.html", "analytics/_plan_chart.html", context)


@role_required(roles.WORK_CONTACTS)
@require_GET
def plan_csv(request, pk: int):
    plan = get_object_or_404(SavedPlan, pk=pk)
    refresh()
    progress = plan_selectors.plan_progress(plan=plan)
    header = [
        _("Plan"),
        _("First day"),
        _("Last day"),
        _("As of"),
        _("Stage"),
        _("Required"),
        _("Actual"),
        _("Expected by today"),
        _("Difference"),
        _("Status"),
    ]
    period = [plan.name, plan.starts_on, progress.ends_on, progress.today]
    rows = [
        [*period, row.name, row.required, row.actual, row.expected, row.difference, _verdict(progress, row)]
        for row in progress.stages
    ]
    if progress.revenue is not None:
        revenue = progress.revenue
        rows.append(
            [
                *period,
                _("Revenue"),
                revenue.goal,
                revenue.actual,
                revenue.expected,
                revenue.difference,
                _verdict(progress, revenue),
            ]
        )
    filename = f"plan-{plan.pk}-{progress.today.isoformat()}.csv"
    return csv_response(filename, header, rows, locale=spreadsheet_locale())


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def plan_edit(request, pk: int):
    """Change a plan's name, period or inputs; what each stage requires is computed again."""
    plan = get_object_or_404(SavedPlan, pk=pk)
    refresh()
    stages = list(Stage.objects.order_by("position"))
    measured = measured_rates()
    initial = {
        "name": plan.name,
        "starts_on": plan.starts_on,
        "months": plan.months,
        "revenue_goal": plan.revenue_goal,
        "average_order_value": plan.average_order_value,
    }
    initial.update({f"rate_{key}": rate for key, rate in plan.rates.items()})
    form = SavePlanForm(request.POST or None, initial=initial, stages=stages, measured=measured)
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, plan=plan, measured=measured)
        if saved is not None:
            messages.success(request, _("Plan “%(name)s” saved.") % {"name": saved.name})
            return redirect("analytics:plan-detail", pk=plan.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "plan": plan, "measure_days": PLAN_MEASURE_DAYS}
    return render(request, "analytics/plan_form.html", context, status=status)


@role_required(roles.EDIT_FUNNEL)
@require_http_methods(["GET", "POST"])
def plan_delete(request, pk: int):
    """GET asks for confirmation; only the POST of the confirmation form deletes."""
    plan = get_object_or_404(SavedPlan, pk=pk)
    if request.method == "POST":
        name = plan.name
        plans.plan_delete(plan=plan)
        messages.success(request, _("Plan “%(name)s” deleted.") % {"name": name})
        return redirect("analytics:plans")
    return render(request, "analytics/plan_confirm_delete.html", {"plan": plan})


urlpatterns = [
    path("plan/", plan_page, name="plan"),
    path("plans/", plan_list, name="plans"),
    path("plans/new/", plan_create, name="plan-create"),
    path("plans/<int:pk>/", plan_detail, name="plan-detail"),
    path("plans/<int:pk>/csv/", plan_csv, name="plan-csv"),
    path("plans/<int:pk>/edit/", plan_edit, name="plan-edit"),
    path("plans/<int:pk>/delete/", plan_delete, name="plan-delete"),
]


# --- Helpers --------------------------------------------------------------------------------------


def _plan_page_context(request, *, form, stages, measured, save_form=None) -> dict:
    """The planning page: the calculated plan when the inputs are valid, and for those who may save
    it the save form (a fresh one, or the one that failed)."""
    rows, error, used = None, None, None
    if form.is_bound and form.is_valid():
        used = plans.plan_rates(rates=form.rates(), keys=form.rate_keys, measured=measured)
        try:
            plan = funnel_plan(
                revenue_goal=form.cleaned_data["revenue_goal"],
                average_order_value=form.cleaned_data["average_order_value"],
                rates=used,
            )
        except PlanError as exc:
            error = plans.plan_error_message(exc)
        else:
            counts = stage_contact_counts()
            months = form.cleaned_data["months"]
            by_key = {s.key: s for s in stages}
            rows = [
                {
                    "stage": by_key[key],
                    "required": required,
                    "now": counts.get(by_key[key].pk, 0),
                    "gap": max(0, required - counts.get(by_key[key].pk, 0)),
                    "per_month": math.ceil(required / months),
                }
                for key, required in plan
            ]
    if rows and save_form is None and roles.has_any(request.user, roles.EDIT_FUNNEL):
        save_initial = {
            "starts_on": _default_start(),
            "months": form.cleaned_data["months"],
            "revenue_goal": form.cleaned_data["revenue_goal"],
            "average_order_value": form.cleaned_data["average_order_value"],
        }
        save_initial.update({f"rate_{key}": repr(rate) for key, rate in used.items()})
        save_form = SavePlanForm(initial=save_initial, stages=stages, measured=measured, hide_inputs=True)
    return {
        "form": form,
        "rows": rows,
        "error": error,
        "measure_days": PLAN_MEASURE_DAYS,
        "save_form": save_form if roles.has_any(request.user, roles.EDIT_FUNNEL) else None,
    }


def _save(request, form: SavePlanForm, *, plan: SavedPlan | None, measured) -> SavedPlan | None:
    data = form.cleaned_data
    try:
        saved = plans.plan_save(
            plan=plan,
            name=data["name"],
            revenue_goal=data["revenue_goal"],
            average_order_value=data["average_order_value"],
            starts_on=data["starts_on"],
            months=data["months"],
            rates=form.rates(),
            by=request.user,
            measured=measured,
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None
    if plans.plan_name_taken(name=saved.name, exclude=saved):
        messages.warning(request, _("Another plan is also called “%(name)s”.") % {"name": saved.name})
    return saved


def _chart_config(labels: list[str], actual: list[int | None], planned: list[int]) -> dict:
    """Chart.js config: a stage's cumulative actual against the linear plan, month by month."""
    return {
        "type": "line",
        "data": {
            "labels": labels,
            "datasets": [
                {
                    "label": _("Plan"),
                    "data": planned,
                    "borderColor": CHART_PLAN_COLOUR,
                    "backgroundColor": CHART_PLAN_COLOUR,
                    "borderDash": [6, 4],
                    "pointRadius": 0,
                    "tension": 0,
                },
                {
                    "label": _("Actual"),
                    "data": actual,
                    "borderColor": CHART_ACTUAL_COLOUR,
                    "backgroundColor": CHART_ACTUAL_COLOUR,
                    "tension": 0,
                },
            ],
        },
        "options": {
            "responsive": True,
            "maintainAspectRatio": False,
            "interaction": {"mode": "index", "intersect": False},
            "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}},
        },
    }


def _verdict(progress: plan_selectors.PlanProgress, row) -> str:
    """The status word of a row, as on the page."""
    if progress.status == plan_selectors.UPCOMING:
        return _("Not started")
    if progress.status == plan_selectors.OVER:
        return _("Reached") if row.on_track else _("Missed")
    return _("On track") if row.on_track else _("Behind")


def _default_start() -> date:
    """The first of next month: plans are usually made ahead."""
    return plan_selectors.add_months(timezone.localdate(), 1)


def _default_order_value() -> Decimal | None:
    from offers.selectors import offer_stats

    today = timezone.localdate()
    return offer_stats(since=today - timedelta(days=PLAN_MEASURE_DAYS), until=today)["average_order_value"]


def _rate_rounded(rate: float) -> float:
    """A measured rate to three significant digits for the form (0.1234 → 0.123, 0.00045 stays)."""
    return float(f"{rate:.3g}")


def _rate_text(rate: float) -> str:
    """The measured rate for the help text, in the user's number format (0.667 / 0,667)."""
    return formats.number_format(rate, 3) if rate >= 0.001 else formats.number_format(_rate_rounded(rate))
