"""Funnel figures from the stage history, and planning backwards from a revenue goal (API.md,
"Funnel figures").

A contact *enters* a stage when a transition takes it from before that stage to it or beyond: a
contact that skips a stage (lead → customer) has passed prospect too, and a contact that falls back
and comes again is counted once per period (distinct contacts). Backward moves enter nothing.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from funnel.models import Stage, StageTransition
from funnel.selectors import stage_contact_counts

# The measured rates the plan falls back to: conversion over this many days up to today.
PLAN_MEASURE_DAYS = 365


@dataclass
class StageFigures:
    key: str
    count: int
    entered: int
    conversion_to_next: float | None
    cumulative_conversion: float | None
    median_days_in_stage: float | None


def _bounds(since: date | None, until: date | None) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    until = until or timezone.localdate()
    since = since or until - timedelta(days=PLAN_MEASURE_DAYS)
    start = datetime.combine(since, time.min, tzinfo=tz)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz)  # the whole last day
    return start, end


def _crossing(position: int):
    """Transitions that take a contact into the stage at ``position`` (or past it) from before it."""
    return StageTransition.objects.filter(to_stage__position__gte=position).filter(
        Q(from_stage__isnull=True) | Q(from_stage__position__lt=position)
    )


def funnel_figures(*, since: date | None = None, until: date | None = None) -> list[StageFigures]:
    """Per stage, in order: contacts in it now, contacts that entered it in the period, the share of
    those that later entered the next stage, the cumulative conversion (the product of the earlier
    stages' next-step conversions) and the median days spent in the stage by those who entered it in
    the period and have left it since. Three queries per stage."""
    start, end = _bounds(since, until)
    stages = list(Stage.objects.order_by("position"))
    counts = stage_contact_counts()
    figures: list[StageFigures] = []
    cumulative: float | None = 1.0
    for index, stage in enumerate(stages):
        entries = _crossing(stage.position).filter(at__gte=start, at__lt=end)
        entered = entries.values("contact_id").distinct().count()
        conversion = None
        if index + 1 < len(stages) and entered:
            onward = _crossing(stages[index + 1].position).filter(
                contact_id=OuterRef("contact_id"), at__gte=OuterRef("at")
            )
            converted = entries.filter(Exists(onward)).values("contact_id").distinct().count()
            conversion = converted / entered
        figures.append(
            StageFigures(
                key=stage.key,
                count=counts.get(stage.pk, 0),
                entered=entered,
                conversion_to_next=conversion,
                cumulative_conversion=cumulative if entered else None,
                median_days_in_stage=_median_days(stage, start, end),
            )
        )
        if cumulative is not None and index + 1 < len(stages):
            cumulative = cumulative * conversion if conversion is not None else None
    return figures


def _median_days(stage: Stage, start: datetime, end: datetime) -> float | None:
    """Median time from arriving in exactly this stage (in the period) to the contact's next move."""
    left_at = (
        StageTransition.objects.filter(contact_id=OuterRef("contact_id"), at__gt=OuterRef("at"))
        .order_by("at", "id")
        .values("at")[:1]
    )
    stays = (
        StageTransition.objects.filter(to_stage=stage, at__gte=start, at__lt=end)
        .annotate(left=Subquery(left_at))
        .filter(left__isnull=False)
        .values_list("at", "left")
    )
    days = [(left - arrived).total_seconds() / 86400 for arrived, left in stays]
    return round(statistics.median(days), 1) if days else None


# --- Planning backwards ---------------------------------------------------------------------------


class PlanError(ValueError):
    """A rate is missing and there is no measured one; ``field`` names it for the 400."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def measured_rates() -> dict[str, float]:
    """Next-step conversion over the last PLAN_MEASURE_DAYS, for the stages that have one."""
    return {f.key: f.conversion_to_next for f in funnel_figures() if f.conversion_to_next}


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


def _exact(value) -> Decimal:
    """Decimal arithmetic, so that 100 / 0.1 is 1000 and not 1000.0000000000001 (which ceil makes 1001)."""
    return Decimal(str(value))
