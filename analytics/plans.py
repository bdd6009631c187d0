"""Write side of saved plans (``analytics.models.SavedPlan``): save (create or change) and delete.

A plan is stored with the rates it was made with — the stages whose rate was left blank get the
measured conversion at the moment of saving — and the contacts each stage needs by the formula of
API.md (:func:`analytics.planning.funnel_plan`). Both stay fixed until the plan is edited, so that
plan-vs-actual compares against the target people agreed on, not one that drifts with the figures.

Validation errors are ``ValidationError`` keyed by the model's field names (``rates`` for the rates),
so that forms show them next to the field.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from analytics.models import SavedPlan
from analytics.planning import PLAN_MEASURE_DAYS, PlanError, funnel_plan, rate_errors
from analytics.selectors import measured_rates
from funnel.models import Stage


@transaction.atomic
def plan_save(
    *,
    plan: SavedPlan | None = None,
    name: str,
    revenue_goal: Decimal,
    average_order_value: Decimal,
    starts_on: date,
    months: int,
    rates: dict[str, float],
    by=None,
    measured: dict[str, float] | None = None,
) -> SavedPlan:
    """Create (``plan`` None) or change a plan and (re)compute what each stage requires. ``rates``
    maps stage keys to 0 < rate ≤ 1; a stage left out takes the measured rate (``measured``, when
    the caller has them, else :func:`measured_rates`). The plan starts on the first of the month of
    ``starts_on``."""
    plan = plan or SavedPlan(created_by=by)
    plan.name = (name or "").strip()
    plan.revenue_goal = revenue_goal
    plan.average_order_value = average_order_value
    plan.starts_on = starts_on.replace(day=1) if starts_on else starts_on
    plan.months = months
    errors: dict[str, list[str]] = {}
    try:
        plan.full_clean(exclude=["rates", "required", "created_by"], validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    keys = list(Stage.objects.order_by("position").values_list("key", flat=True))[:-1]
    bad_rates = rate_errors(rates, keys)
    if bad_rates:
        errors["rates"] = bad_rates
    if errors:
        raise ValidationError(errors)
    used = plan_rates(rates=rates, keys=keys, measured=measured)
    try:
        required = funnel_plan(
            revenue_goal=plan.revenue_goal, average_order_value=plan.average_order_value, rates=used
        )
    except PlanError as exc:
        raise ValidationError({"rates": [plan_error_message(exc)]}) from None
    plan.rates = used
    plan.required = dict(required)
    plan.save()
    return plan


def plan_delete(*, plan: SavedPlan) -> None:
    plan.delete()


def plan_rates(
    *, rates: dict[str, float], keys: list[str] | None = None, measured: dict[str, float] | None = None
) -> dict[str, float]:
    """The rates a plan is made with: the given ones, and the measured ones for the stages left out
    (``keys``: the stages that have a rate, all but the last). A stage with neither stays out, and
    :func:`funnel_plan` then says so."""
    if keys is None:
        keys = list(Stage.objects.order_by("position").values_list("key", flat=True))[:-1]
    if measured is None and any(key not in rates for key in keys):
        measured = measured_rates()
    measured = measured or {}
    used = {}
    for key in keys:
        if key in rates:
            used[key] = float(rates[key])
        elif key in measured:
            used[key] = float(measured[key])
    return used


def plan_error_message(exc: PlanError) -> str:
    """PlanError's message in the user's language."""
    if exc.field.startswith("rates."):
        key = exc.field.removeprefix("rates.")
        stage = Stage.objects.filter(key=key).values_list("name", flat=True).first() or key
        return _("No rate for “%(stage)s” given, and none measured in the last %(days)s days.") % {
            "stage": stage,
            "days": PLAN_MEASURE_DAYS,
        }
    return _("The funnel has no customer stage.")


def plan_name_taken(*, name: str, exclude: SavedPlan | None = None) -> bool:
    """Another plan has this name (regardless of case). Allowed, but worth a warning."""
    others = SavedPlan.objects.filter(name__iexact=name.strip())
    if exclude is not None and exclude.pk:
        others = others.exclude(pk=exclude.pk)
    return others.exists()
