"""The read side of the analytics: funnel figures, breakdowns, series and cohorts for a period.

Everything is summed from the pre-aggregated tables (analytics.models), so the cost depends on the
number of days and breakdown values in the period, not on the number of contacts. Definitions
(API.md, "Funnel figures"): a contact *enters* a stage when it first passes it — skipping a stage
passes it, falling back and coming again enters nothing; ``conversion_to_next`` is the share of the
period's entrants that have passed the next stage since; days in stage are counted for contacts that
arrived in the stage (not skipped it), from arriving to passing the next stage.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.fold import COHORT_STAGE, fold_pending
from analytics.models import Dimension, PendingTransition, StageCohort, StageDay, StageDwell
from funnel.models import Contact, Stage
from funnel.selectors import stage_contact_counts

# The default period of the figures and the measured rates the plan falls back to.
DEFAULT_DAYS = 365


@dataclass
class StageFigures:
    key: str
    name: str
    count: int
    entered: int
    converted: int
    conversion_to_next: float | None
    cumulative_conversion: float | None
    median_days_in_stage: float | None
    p90_days_in_stage: float | None


@dataclass
class Period:
    since: date
    until: date  # included

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1


def period(since: date | None = None, until: date | None = None) -> Period:
    until = until or timezone.localdate()
    return Period(since or until - timedelta(days=DEFAULT_DAYS), until)


def _stages(stages: list[Stage] | None) -> list[Stage]:
    """The funnel's stages in order: the caller's list (a page reads them once), else from the DB."""
    return stages if stages is not None else list(Stage.objects.order_by("position"))


def refresh(*, wait: bool = False) -> None:
    """Fold what the periodic task has not folded yet, so that a page shows the latest moves. Bounded
    to one batch: a large backlog (a bulk import) is the task's work, not a page view's. Mostly
    nothing is queued: then it costs one EXISTS and no transaction. (Right after a fold of millions
    of transitions, until autovacuum has cleared the queue's dead rows, that EXISTS takes ~60 ms.)"""
    if PendingTransition.objects.exists():
        fold_pending(max_batches=1, wait=wait)


def daily_rows(p: Period, *, dimension: str = Dimension.ALL) -> list[tuple]:
    """(day, stage id, value, entered, converted) of the period, for the whole funnel or a breakdown."""
    return list(
        StageDay.objects.filter(dimension=dimension, day__gte=p.since, day__lte=p.until)
        .order_by()
        .values_list("day", "stage_id", "value", "entered", "converted")
    )


def funnel_figures(
    *, since: date | None = None, until: date | None = None, rows=None, stages: list[Stage] | None = None
) -> list[StageFigures]:
    """Per stage, in order: contacts in it now, entrants of the period, the share of them that passed
    the next stage since, the cumulative conversion (the product of the earlier stages' conversions)
    and the median and 90th percentile of days in the stage of the period's arrivals. Four queries;
    pass ``rows`` (:func:`daily_rows`) and ``stages`` (with ``contact_count``, as
    ``funnel.selectors.stage_list_with_counts`` gives them) when the caller has them."""
    p = period(since, until)
    if stages is None:
        stages = list(Stage.objects.order_by("position"))
        counts = stage_contact_counts()
    else:
        counts = {stage.pk: stage.contact_count for stage in stages}
    entered: dict[int, int] = defaultdict(int)
    converted: dict[int, int] = defaultdict(int)
    for _day, stage_id, _value, n_entered, n_converted in rows if rows is not None else daily_rows(p):
        entered[stage_id] += n_entered
        converted[stage_id] += n_converted
    dwell = _dwell(p)
    figures: list[StageFigures] = []
    cumulative: float | None = 1.0
    for index, stage in enumerate(stages):
        has_next = index + 1 < len(stages)
        conversion = converted[stage.pk] / entered[stage.pk] if has_next and entered[stage.pk] else None
        histogram = dwell.get(stage.pk, [])
        figures.append(
            StageFigures(
                key=stage.key,
                name=stage.name,
                count=counts.get(stage.pk, 0),
                entered=entered[stage.pk],
                converted=converted[stage.pk] if has_next else 0,
                conversion_to_next=conversion,
                cumulative_conversion=cumulative if entered[stage.pk] else None,
                median_days_in_stage=histogram_percentile(histogram, 0.5),
                p90_days_in_stage=histogram_percentile(histogram, 0.9),
            )
        )
        if cumulative is not None and has_next:
            cumulative = cumulative * conversion if conversion is not None else None
    return figures


def _dwell(p: Period) -> dict[int, list[tuple[int, int]]]:
    rows = (
        StageDwell.objects.filter(day__gte=p.since, day__lte=p.until)
        .order_by()
        .values_list("stage_id", "days")
        .annotate(n=Sum("contacts"))
    )
    histograms: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for stage_id, days, n in rows:
        histograms[stage_id].append((days, n))
    return histograms


def histogram_percentile(histogram: list[tuple[int, int]], q: float) -> float | None:
    """The q-quantile of values given as (value, how often); the median (q = 0.5) as
    ``statistics.median`` does it (the mean of the two middle values), others by nearest rank."""
    total = sum(n for _, n in histogram)
    if not total:
        return None
    ordered = sorted(histogram)

    def nth(index: int) -> int:  # the value at 0-based rank ``index``
        seen = 0
        for value, n in ordered:
            seen += n
            if index < seen:
                return value
        return ordered[-1][0]

    if q == 0.5:
        middle = total // 2
        value = nth(middle) if total % 2 else (nth(middle - 1) + nth(middle)) / 2
    else:
        value = nth(max(math.ceil(q * total) - 1, 0))
    return float(value)


def measured_rates() -> dict[str, float]:
    """Next-step conversion over the last DEFAULT_DAYS, for the stages that have one."""
    return {f.key: f.conversion_to_next for f in funnel_figures() if f.conversion_to_next}


# --- Breakdowns -----------------------------------------------------------------------------------


@dataclass
class BreakdownRow:
    value: str
    label: str
    entered: dict[str, int] = field(default_factory=dict)  # stage key → entrants
    conversion: dict[str, float | None] = field(default_factory=dict)  # stage key → to next

    @property
    def total(self) -> int:
        return max(self.entered.values(), default=0)


def funnel_breakdown(
    *, dimension: str, since: date | None = None, until: date | None = None, stages: list[Stage] | None = None
) -> list[BreakdownRow]:
    """Entrants and conversion per stage for each value of a breakdown (source, owner, industry,
    persona) — as the contact was when it passed the stage. Largest groups first; "" is "not known"."""
    if dimension not in {d.value for d in Dimension} or dimension == Dimension.ALL:
        raise ValueError(f"Unknown breakdown: {dimension}")
    p = period(since, until)
    stages = [(stage.pk, stage.key) for stage in _stages(stages)]
    keys = dict(stages)
    last = stages[-1][0] if stages else None
    sums = (
        StageDay.objects.filter(dimension=dimension, day__gte=p.since, day__lte=p.until)
        .order_by()
        .values_list("value", "stage_id")
        .annotate(entered=Sum("entered"), converted=Sum("converted"))
    )
    rows: dict[str, BreakdownRow] = {}
    for value, stage_id, entered, converted in sums:
        row = rows.setdefault(value, BreakdownRow(value=value, label=""))
        row.entered[keys[stage_id]] = entered
        row.conversion[keys[stage_id]] = converted / entered if entered and stage_id != last else None
    labels = _labels(dimension, list(rows))
    for row in rows.values():
        row.label = labels.get(row.value) or row.value or _("Not known")
        for _id, key in stages:
            row.entered.setdefault(key, 0)
            row.conversion.setdefault(key, None)
    return sorted(rows.values(), key=lambda r: (-r.total, r.label.lower()))


def _labels(dimension: str, values: list[str]) -> dict[str, str]:
    ids = [int(v) for v in values if v.isdigit()]
    if dimension == Dimension.SOURCE:
        return {v: str(label) for v, label in Contact.Source.choices}
    if dimension == Dimension.OWNER:
        users = get_user_model().objects.filter(pk__in=ids)
        found = {str(u.pk): u.get_full_name() or u.get_username() for u in users}
        return {v: found.get(v, _("Former user #%(id)s") % {"id": v}) for v in values if v}
    if dimension == Dimension.PERSONA:
        from content.models import Persona

        found = {str(pk): name for pk, name in Persona.objects.filter(pk__in=ids).values_list("pk", "name")}
        return {v: found.get(v, _("Deleted persona #%(id)s") % {"id": v}) for v in values if v}
    return {}


# --- Series over time -----------------------------------------------------------------------------


@dataclass
class Series:
    """One value per bucket (week or month start) and stage: ``values[stage key][i]`` for
    ``buckets[i]``; conversions are None where nothing entered."""

    buckets: list[date]
    stages: list[tuple[str, str]]  # (key, name)
    values: dict[str, list]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def _buckets(p: Period, start) -> list[date]:
    buckets, day = [], start(p.since)
    while day <= p.until:
        buckets.append(day)
        day = start(day + timedelta(days=7 if start is week_start else 32))
    return buckets


def entries_by_week(p: Period, rows=None, stages: list[Stage] | None = None) -> Series:
    """Contacts entering each stage per week (weeks start on Monday; the first and last may be cut
    by the period)."""
    return _series(p, rows, stages, week_start, lambda entered, converted: entered)


def conversion_by_month(p: Period, rows=None, stages: list[Stage] | None = None) -> Series:
    """Per month of entry: the share of that month's entrants that have passed the next stage since."""
    return _series(
        p, rows, stages, month_start, lambda entered, converted: converted / entered if entered else None
    )


def _series(p: Period, rows, stages, start, measure) -> Series:
    stages = [(stage.pk, stage.key, stage.name) for stage in _stages(stages)]
    buckets = _buckets(p, start)
    index = {bucket: i for i, bucket in enumerate(buckets)}
    sums = {sid: [[0, 0] for _ in buckets] for sid, _, _ in stages}
    for day, stage_id, _value, entered, converted in rows if rows is not None else daily_rows(p):
        cell = sums[stage_id][index[start(day)]]
        cell[0] += entered
        cell[1] += converted
    is_rate = start is month_start
    values = {
        key: [measure(e, c) for e, c in sums[sid]]
        for position, (sid, key, _name) in enumerate(stages)
        if not (is_rate and position == len(stages) - 1)  # the last stage has no next one
    }
    return Series(buckets, [(key, name) for _sid, key, name in stages if key in values], values)


# --- Cohorts --------------------------------------------------------------------------------------


@dataclass
class Cohort:
    month: date
    size: int  # contacts that became leads that month
    # stage key → share of the cohort that had passed the stage by month M+k, k = 0, 1, … (up to today)
    reached: dict[str, list[float]]


def cohorts(p: Period, *, horizon: int = 12, stages: list[Stage] | None = None) -> list[Cohort]:
    """Cohorts of the months the period touches: contacts that became leads in month M and the
    share of them that had reached each later stage by M+k (k ≤ ``horizon`` and not past today)."""
    stages = [(stage.pk, stage.key, stage.position) for stage in _stages(stages)]
    lead = next(((sid, pos) for sid, key, pos in stages if key == COHORT_STAGE), None)
    if lead is None:
        return []
    first, last = month_start(p.since), month_start(p.until)
    end = _add_months(last, 1) - timedelta(days=1)
    sizes: dict[date, int] = defaultdict(int)
    for day, n in (
        StageDay.objects.filter(dimension=Dimension.ALL, stage_id=lead[0], day__gte=first, day__lte=end)
        .order_by()
        .values_list("day", "entered")
    ):
        sizes[month_start(day)] += n
    later = [(sid, key) for sid, key, pos in stages if pos > lead[1]]
    reached: dict[tuple[date, int], dict[int, int]] = defaultdict(dict)
    for month, stage_id, after, n in (
        StageCohort.objects.filter(month__gte=first, month__lte=last)
        .order_by()
        .values_list("month", "stage_id", "months_after", "contacts")
    ):
        reached[(month, stage_id)][after] = n
    today = month_start(timezone.localdate())
    result = []
    month = first
    while month <= last:
        size = sizes.get(month, 0)
        elapsed = min(horizon, (today.year - month.year) * 12 + today.month - month.month)
        shares: dict[str, list[float]] = {}
        for sid, key in later:
            counts, running, row = reached.get((month, sid), {}), 0, []
            for k in range(elapsed + 1):
                running += counts.get(k, 0)
                row.append(running / size if size else 0.0)
            shares[key] = row
        result.append(Cohort(month, size, shares))
        month = _add_months(month, 1)
    return result


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
