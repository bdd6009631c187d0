"""Planning backwards from a revenue goal (API.md, "Funnel figures": the plan formula)."""

from __future__ import annotations

import math
from decimal import Decimal

from django.utils.translation import gettext as _

from analytics.selectors import DEFAULT_DAYS, measured_rates
from funnel.models import Stage

# The measured rates the plan falls back to: conversion over this many days up to today.
PLAN_MEASURE_DAYS = DEFAULT_DAYS


class PlanError(ValueError):
    """A rate is missing and there is no measured one; ``field`` names it for the 400."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def funnel_plan(
    *, revenue_goal: Decimal, average_order_value: Decimal, rates: dict[str, float]
) -> list[tuple[str, int]]:
    """How many contacts each stage needs (API.md): customers = ceil(goal / order value); each earlier
    stage = ceil(next stage's number / its rate); consumption = ceil(customers × rate of customer);
    reference = ceil(consumption × rate of consumption). A rate left out is the measured one."""
    stages = [s.key for s in Stage.objects.order_by("position")]
    if "customer" not in stages:
        raise PlanError("non_field_errors", "The funnel has no customer stage.")
    customer = stages.index("customer")
    needed = [key for key in stages[:-1] if key not in rates]
    measured = measured_rates() if needed else {}
    rate: dict[str, float] = {}
    for key in stages[:-1]:
        value = rates.get(key, measured.get(key))
        if value is None:
            raise PlanError(
                f"rates.{key}",
                f"No rate for “{key}” given, and none measured in the last {PLAN_MEASURE_DAYS} days.",
            )
        rate[key] = float(value)
    required: dict[str, int] = {"customer": math.ceil(_exact(revenue_goal) / _exact(average_order_value))}
    for index in range(customer - 1, -1, -1):
        key, following = stages[index], stages[index + 1]
        required[key] = math.ceil(_exact(required[following]) / _exact(rate[key]))
    for index in range(customer + 1, len(stages)):
        key, before = stages[index], stages[index - 1]
        required[key] = math.ceil(_exact(required[before]) * _exact(rate[before]))
    return [(key, required[key]) for key in stages]


def rate_errors(rates: dict[str, float], keys: list[str] | None = None) -> list[str]:
    """What is wrong with given rates (empty when nothing): a stage that has no rate (``keys``: all
    stages but the last) or a rate outside 0 < r ≤ 1. The API and the saved plans share it."""
    if keys is None:
        keys = list(Stage.objects.order_by("position").values_list("key", flat=True))[:-1]
    errors = []
    for key, value in rates.items():
        if key not in keys:
            errors.append(_("Unknown stage “%(key)s”.") % {"key": key})
        elif not 0 < float(value) <= 1:
            errors.append(_("The rate of “%(key)s” must be more than 0 and at most 1.") % {"key": key})
    return errors


def _exact(value) -> Decimal:
    """Decimal arithmetic, so that 100 / 0.1 is 1000 and not 1000.0000000000001 (which ceil makes 1001)."""
    return Decimal(str(value))
