"""Read side of saved plans: plan vs actual.

A plan runs from ``starts_on`` (the first of a month) for ``months`` calendar months. Its actuals are
the contacts that first passed each stage in that period (``StageDay``, the whole funnel), up to
today. The expectation by today is linear in days: ``required × elapsed days ÷ days of the plan``,
rounded down, where today counts as elapsed. A stage is on track when its actual reaches that.

Everything is read from the per-day figures, so the cost depends on the plan's length, not on the
number of contacts: two queries (the stages and the monthly sums of the period).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from analytics.models import Dimension, SavedPlan, StageDay
from analytics.selectors import month_start
from funnel.models import Stage

UPCOMING = "upcoming"
RUNNING = "running"
OVER = "over"
# The stage whose entrants are sales: its actual times the average order value is the revenue.
CUSTOMER_STAGE = "customer"


@dataclass
class StageProgress:
    key: str
    name: str
    required: int
    per_month: int  # required ÷ the plan's months, rounded up: the pace
    actual: int
    expected: int  # by today, pro rata

    @property
    def difference(self) -> int:
        return self.actual - self.expected

    @property
    def on_track(self) -> bool:
        return self.actual >= self.expected


@dataclass
class RevenueProgress:
    goal: Decimal
    actual: Decimal  # customers won in the period × the plan's average order value
    expected: Decimal

    @property
    def difference(self) -> Decimal:
        return self.actual - self.expected

    @property
    def on_track(self) -> bool:
        return self.actual >= self.expected


@dataclass
class PlanProgress:
    plan: SavedPlan
    today: date
    ends_on: date  # the plan's last day
    elapsed_days: int  # 0 before the start, total_days after the end
    total_days: int
    stages: list[StageProgress]
    revenue: RevenueProgress | None  # None when the plan has no customer stage
    months: list[date]  # the first of each month of the plan
    monthly: dict[str, list[int]]  # stage key → entrants per month of the plan (0 for months to come)

    @property
    def status(self) -> str:
        return plan_status(self.plan, self.today)

    @property
    def elapsed_share(self) -> float:
        return self.elapsed_days / self.total_days

    @property
    def months_started(self) -> int:
        """The months of the plan that have begun by today (the current one included)."""
        return sum(1 for month in self.months if month <= self.today)

    def stage(self, key: str) -> StageProgress | None:
        return next((s for s in self.stages if s.key == key), None)


def plan_end(plan: SavedPlan) -> date:
    return add_months(plan.starts_on, plan.months) - timedelta(days=1)


def plan_status(plan: SavedPlan, today: date) -> str:
    """Not begun yet, running (its last day included) or over."""
    if today < plan.starts_on:
        return UPCOMING
    return OVER if today > plan_end(plan) else RUNNING


def plan_progress(*, plan: SavedPlan, today: date | None = None) -> PlanProgress:
    """Required, actual and expected-by-today per stage of ``plan``, in funnel order (stages the plan
    has no number for are left out; a stage deleted since shows under its key with no actuals)."""
    today = today or timezone.localdate()
    ends_on = plan_end(plan)
    total_days = (ends_on - plan.starts_on).days + 1
    last_counted = min(today, ends_on)
    elapsed_days = max(0, (last_counted - plan.starts_on).days + 1)
    months = [add_months(plan.starts_on, i) for i in range(plan.months)]
    stages = list(Stage.objects.order_by("position").values_list("id", "key", "name"))
    monthly = {key: [0] * len(months) for _id, key, _name in stages}
    if elapsed_days:
        index = {month: i for i, month in enumerate(months)}
        keys = {sid: key for sid, key, _name in stages}
        for month, stage_id, entered in _monthly_entered(plan.starts_on, last_counted):
            if stage_id in keys:
                monthly[keys[stage_id]][index[_as_date(month)]] += entered
    names = {key: name for _id, key, name in stages}
    ordered = [key for _id, key, _name in stages if key in plan.required]
    ordered += [key for key in plan.required if key not in names]
    rows = [
        StageProgress(
            key=key,
            name=names.get(key, key),
            required=int(plan.required[key]),
            per_month=math.ceil(int(plan.required[key]) / plan.months),
            actual=sum(monthly.get(key, [])),
            expected=int(plan.required[key]) * elapsed_days // total_days,
        )
        for key in ordered
    ]
    customers = next((row for row in rows if row.key == CUSTOMER_STAGE), None)
    revenue = None
    if customers is not None:
        revenue = RevenueProgress(
            goal=plan.revenue_goal,
            actual=customers.actual * plan.average_order_value,
            expected=(plan.revenue_goal * elapsed_days / total_days).quantize(Decimal("0.01")),
        )
    return PlanProgress(
        plan=plan,
        today=today,
        ends_on=ends_on,
        elapsed_days=elapsed_days,
        total_days=total_days,
        stages=rows,
        revenue=revenue,
        months=months,
        monthly=monthly,
    )


def cumulative_series(progress: PlanProgress, key: str) -> tuple[list[int | None], list[int]]:
    """For one stage: the cumulative actual at the end of each month of the plan (None for months
    not begun yet; the current month counts up to today) and the linear plan line at the end of each
    month (required × days from the start through that month ÷ days of the plan, rounded down)."""
    row = progress.stage(key)
    required = row.required if row else 0
    actual: list[int | None] = []
    planned: list[int] = []
    running = 0
    start = progress.plan.starts_on
    for i, month in enumerate(progress.months):
        days_through = (add_months(month, 1) - start).days
        planned.append(required * days_through // progress.total_days)
        if month <= progress.today:
            running += progress.monthly.get(key, [0] * len(progress.months))[i]
            actual.append(running)
        else:
            actual.append(None)
    return actual, planned


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after the month of ``day``."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _monthly_entered(since: date, until: date):
    """(first of month, stage id, entrants) for the whole funnel, ``since`` to ``until`` included."""
    return (
        StageDay.objects.filter(dimension=Dimension.ALL, value="", day__gte=since, day__lte=until)
        .annotate(month=TruncMonth("day"))
        .order_by()
        .values_list("month", "stage_id")
        .annotate(entered=Sum("entered"))
    )


def _as_date(value) -> date:
    """TruncMonth gives a date; some backends a datetime."""
    return month_start(value.date() if hasattr(value, "date") else value)
