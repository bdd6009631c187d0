"""The planning page: from a revenue goal and an average order value back to the contacts each stage
needs (analytics.planning.funnel_plan, the formula of API.md), beside today's numbers and the pace per
month. Rates are prefilled from the measured conversion of the last year and can be changed; the
order value defaults to the average won offer. Everyone with a role may plan (nothing is stored)."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts import roles
from accounts.decorators import role_required
from analytics.planning import PLAN_MEASURE_DAYS, PlanError, funnel_plan
from analytics.selectors import funnel_figures
from funnel.models import Stage
from funnel.selectors import stage_contact_counts


class PlanForm(forms.Form):
    revenue_goal = forms.DecimalField(
        label=_("revenue goal"), min_value=Decimal("0.01"), max_digits=18, decimal_places=2
    )
    average_order_value = forms.DecimalField(
        label=_("average order value"), min_value=Decimal("0.01"), max_digits=18, decimal_places=2
    )
    months = forms.IntegerField(label=_("in months"), min_value=1, max_value=60, initial=12)

    def __init__(self, *args, stages: list[Stage], measured: dict[str, float], **kwargs):
        super().__init__(*args, **kwargs)
        self.rate_keys = [s.key for s in stages[:-1]]
        for stage in stages[:-1]:
            self.fields[f"rate_{stage.key}"] = forms.DecimalField(
                label=_("%(stage)s → next") % {"stage": stage.name},
                required=False,
                min_value=Decimal("0.001"),
                max_value=Decimal("1"),
                decimal_places=3,
                help_text=_("measured: %(rate)s") % {"rate": f"{measured[stage.key]:.3f}"}
                if stage.key in measured
                else _("nothing measured"),
            )

    def rates(self) -> dict[str, float]:
        return {
            key: float(value) for key in self.rate_keys if (value := self.cleaned_data.get(f"rate_{key}"))
        }


def _default_order_value() -> Decimal | None:
    from offers.selectors import offer_stats

    today = timezone.localdate()
    return offer_stats(since=today - timedelta(days=PLAN_MEASURE_DAYS), until=today)["average_order_value"]


@role_required(roles.WORK_CONTACTS)
@require_GET
def plan_page(request):
    stages = list(Stage.objects.order_by("position"))
    measured = {f.key: f.conversion_to_next for f in funnel_figures() if f.conversion_to_next}
    bound = "revenue_goal" in request.GET
    initial = {"months": 12, "average_order_value": _default_order_value()}
    initial.update({f"rate_{key}": round(rate, 3) for key, rate in measured.items()})
    form = PlanForm(request.GET if bound else None, initial=initial, stages=stages, measured=measured)
    rows, error = None, None
    if bound and form.is_valid():
        try:
            plan = funnel_plan(
                revenue_goal=form.cleaned_data["revenue_goal"],
                average_order_value=form.cleaned_data["average_order_value"],
                rates=form.rates(),
            )
        except PlanError as exc:
            error = exc.message
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
    status = 400 if bound and (not form.is_valid() or error) else 200
    context = {"form": form, "rows": rows, "error": error, "measure_days": PLAN_MEASURE_DAYS}
    return render(request, "funnel/plan.html", context, status=status)


urlpatterns = [path("plan/", plan_page, name="plan")]
