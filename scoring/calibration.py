"""Calibration of the scoring rules from history: which activities and attributes actually preceded
becoming a customer, what the rules' points would be if they followed the data, and how well the
sales threshold and the score have done.

The data set (:func:`calibration_dataset`)
------------------------------------------
A *cut-off* design. The cut-off is ``window_days`` before now. The population is every contact that
existed at the cut-off and had not yet reached ``customer`` (or a later stage). Its outcome is whether
it reached ``customer`` or later between the cut-off and now; its features are built from what was
known at the cut-off only — events that occurred before it — so nothing that happened on the way to
the purchase leaks into the prediction of it. Fit attributes are read as they are now (the CRM keeps
no history of job titles or company sizes); they rarely change.

Features: for every active engagement rule the number of events *that rule matches* before the cut-off
(topic and property filters included, daily caps not), as ``log1p(count)``; for every event type without
an active rule the number of its events, likewise; for every active fit rule 0/1 whether the contact
matches it. A rule with a filter therefore gets the weight of its own events, on top of an unfiltered
rule of the same type — which is how their points add up in the score.

The whole data set comes from three grouped queries (contacts with outcome and fit matches; events
grouped by contact with one filtered count/sum per rule and type; event types) — no query and no Python
work per event. At 1M contacts and 10M events this takes seconds: fine for a page that is opened when
someone reviews the rules, not on every request.

The model (:func:`fit_logistic`)
--------------------------------
L2-regularised logistic regression on standardised features, fitted by Newton's method (IRLS):
deterministic, no hyper-parameter search. Coefficients are turned back into "per unit" (per log1p
count, per matched attribute) and scaled to the points scale so that the rules keep their current
median (:func:`suggest_points`). A feature with fewer than :data:`MIN_SUPPORT` contacts or
:data:`MIN_SUPPORT_CONVERTERS` converters having it, or that (almost) every contact has, gets no
suggestion.

The threshold report (:func:`threshold_report`)
-----------------------------------------------
Recorded threshold crossings in the window and what became of those contacts (precision), customers
of the window whom the threshold never flagged (missed), and, on the data set, the ROC AUC of the score
the current rules give at the cut-off plus precision/recall at a few thresholds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Lower, Power, Trim
from django.db.models.lookups import IContains
from django.utils import timezone
from django.utils.translation import gettext as _

from funnel.models import Contact, Stage, StageTransition
from scoring import rules as rule_services
from scoring.models import EngagementRule, Event, EventType, FitRule, ScoringSettings, ThresholdCrossing
from scoring.services import FREEMAIL_DOMAINS

WINDOW_MIN_DAYS = 30
WINDOW_MAX_DAYS = 730
WINDOW_DEFAULT_DAYS = 180
CUSTOMER_STAGE = "customer"

# Below these the whole data set is too small to fit anything.
MIN_CONTACTS = 100
MIN_CONVERTERS = 10
# Per feature: contacts having it, converters among them, and contacts *not* having it.
MIN_SUPPORT = 30
MIN_SUPPORT_CONVERTERS = 5

L2 = 1.0  # prior strength on the standardised coefficients
POINTS_LIMIT = 1000  # the rules' points validators


# --- Result types ----------------------------------------------------------------------------------


@dataclass
class FeatureStat:
    """One feature of the model: an engagement rule, an event type without a rule, or a fit rule."""

    key: str  # "engagement:<id>", "fit:<id>", "event_type:<key>": what the apply endpoint takes
    kind: str  # "engagement" | "fit" | "event_type"
    label: str
    rule_id: int | None = None
    event_type: str = ""
    filtered: bool = False  # an engagement rule with a topic or property filter
    current_points: int | None = None
    with_contacts: int = 0
    with_converters: int = 0
    without_contacts: int = 0
    without_converters: int = 0
    rate_with: float | None = None
    rate_without: float | None = None
    lift: float | None = None  # rate_with / rate_without
    coefficient: float | None = None  # per unit (log1p count or 0/1), on the log-odds scale
    suggested_points: int | None = None
    note: str = ""  # why there is no suggestion

    @property
    def rate_with_percent(self) -> float | None:
        return _percent(self.rate_with)

    @property
    def rate_without_percent(self) -> float | None:
        return _percent(self.rate_without)

    @property
    def change(self) -> int | None:
        if self.suggested_points is None or self.current_points is None:
            return None
        return self.suggested_points - self.current_points


@dataclass
class ThresholdRow:
    threshold: int
    flagged: int
    converted: int
    precision: float | None
    recall: float | None
    current: bool = False

    @property
    def precision_percent(self) -> float | None:
        return _percent(self.precision)

    @property
    def recall_percent(self) -> float | None:
        return _percent(self.recall)


@dataclass
class ThresholdReport:
    threshold: int
    crossed: int  # contacts that crossed in the window before being customers
    became_customers: int  # … of which reached customer afterwards
    precision: float | None
    customers: int  # contacts that first reached customer in the window
    missed: int  # … of which never crossed the threshold before that
    missed_share: float | None
    auc_current: float | None  # score of the current rules at the cut-off vs outcome
    auc_model: float | None  # the fitted model, in-sample
    auc_suggested: float | None  # score with the suggested points at the cut-off, in-sample
    table: list[ThresholdRow] = field(default_factory=list)

    @property
    def precision_percent(self) -> float | None:
        return _percent(self.precision)

    @property
    def missed_percent(self) -> float | None:
        return _percent(self.missed_share)


@dataclass
class CalibrationReport:
    window_days: int
    cutoff: datetime
    now: datetime
    contacts: int
    converters: int
    enough_history: bool
    message: str
    scale: float | None
    engagement: list[FeatureStat]
    fit: list[FeatureStat]
    event_types: list[FeatureStat]
    thresholds: ThresholdReport
    min_contacts: int = MIN_CONTACTS
    min_converters: int = MIN_CONVERTERS
    min_support: int = MIN_SUPPORT
    min_support_converters: int = MIN_SUPPORT_CONVERTERS

    @property
    def base_rate(self) -> float | None:
        return self.converters / self.contacts if self.contacts else None

    @property
    def base_rate_percent(self) -> float | None:
        return _percent(self.base_rate)

    @property
    def suggestions(self) -> list[FeatureStat]:
        """The applicable suggestions (rules whose suggested points differ from the current ones)."""
        return [f for f in (*self.engagement, *self.fit) if f.change]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["base_rate"] = self.base_rate
        for name in ("engagement", "fit", "event_types"):
            for row, stat in zip(data[name], getattr(self, name), strict=True):
                row["change"] = stat.change
        return data


@dataclass
class Dataset:
    """The calibration data set: one row per contact of the population."""

    contact_ids: np.ndarray
    y: np.ndarray  # 1 = reached customer in the window
    features: list[FeatureStat]  # one per column of X, in order
    X: np.ndarray  # log1p counts and 0/1 fit matches
    has: np.ndarray  # bool: the contact has the feature (count ≥ 1, attribute matches)
    # The current rules' score at the cut-off: per engagement rule the decayed points weight
    # Σ 2^(−age/half-life) of its events, so that engagement = weights @ points.
    rule_weights: np.ndarray  # contacts × engagement rules
    engagement_rules: list[EngagementRule]
    fit_rules: list[FitRule]


# --- Public entry points -----------------------------------------------------------------------------


def calibration_report(
    *, window_days: int = WINDOW_DEFAULT_DAYS, now: datetime | None = None
) -> CalibrationReport:
    """The calibration page's and API's report (see the module docstring)."""
    window_days = _check_window(window_days)
    now = now or timezone.now()
    cutoff = now - timedelta(days=window_days)
    settings = ScoringSettings.load()
    data = calibration_dataset(cutoff=cutoff, now=now, half_life_days=settings.half_life_days)
    n, converters = len(data.y), int(data.y.sum())

    for j, feature in enumerate(data.features):
        _fill_lift(feature, data.has[:, j], data.y)

    enough = n >= MIN_CONTACTS and converters >= MIN_CONVERTERS and n - converters >= MIN_CONTACTS // 2
    scale, auc_model, auc_suggested = None, None, None
    if enough:
        message = ""
        usable = np.array([_has_support(f) for f in data.features], dtype=bool)
        for feature, ok in zip(data.features, usable, strict=True):
            if not ok:
                feature.note = _support_note(feature)
        if usable.any():
            intercept, coefs = fit_logistic(data.X[:, usable], data.y)
            auc_model = roc_auc(intercept + data.X[:, usable] @ coefs, data.y)
            for feature, coef in zip(
                [f for f, ok in zip(data.features, usable, strict=True) if ok], coefs, strict=True
            ):
                feature.coefficient = float(coef)
            scale = suggest_points(data.features)
    else:
        message = _(
            "Not enough history: %(contacts)s contacts existed before the cut-off and %(converters)s of them "
            "became customers in the window; the model needs at least %(min_contacts)s contacts and "
            "%(min_converters)s customers. Choose a longer window or wait for more history."
        ) % {
            "contacts": n,
            "converters": converters,
            "min_contacts": MIN_CONTACTS,
            "min_converters": MIN_CONVERTERS,
        }
        for feature in data.features:
            feature.note = _("not enough data")

    current = _score_at_cutoff(data, suggested=False)
    engagement_now = data.rule_weights @ np.array([r.points for r in data.engagement_rules], dtype=float)
    if scale is not None:
        auc_suggested = roc_auc(_score_at_cutoff(data, suggested=True), data.y)
    thresholds = threshold_report(
        cutoff=cutoff,
        now=now,
        threshold=settings.sales_threshold,
        engagement_at_cutoff=engagement_now,
        y=data.y,
    )
    thresholds.auc_current = roc_auc(current, data.y)
    thresholds.auc_model = auc_model
    thresholds.auc_suggested = auc_suggested
    return CalibrationReport(
        window_days=window_days,
        cutoff=cutoff,
        now=now,
        contacts=n,
        converters=converters,
        enough_history=enough,
        message=message,
        scale=scale,
        engagement=[f for f in data.features if f.kind == "engagement"],
        fit=[f for f in data.features if f.kind == "fit"],
        event_types=[f for f in data.features if f.kind == "event_type"],
        thresholds=thresholds,
    )


class CalibrationError(ValueError):
    """A refused apply: unknown rules, or rules without a suggestion. Nothing was changed."""


def calibration_apply(
    *, by, keys: list[str] | None = None, apply_all: bool = False, window_days: int = WINDOW_DEFAULT_DAYS
) -> list[dict]:
    """Set the suggested points on the rules named by ``keys`` ("engagement:<id>", "fit:<id>"), or on
    every rule with a suggestion (``apply_all``), through :func:`scoring.rules.rule_update` — which
    asks for a rebuild of all scores. The report is computed afresh, so what is applied is what the
    data says now. All or nothing: one transaction, and a key without a suggestion refuses the lot.

    Returns ``[{"key", "name", "old_points", "new_points"}]`` for the rules that changed.
    """
    report = calibration_report(window_days=window_days)
    by_key = {f.key: f for f in (*report.engagement, *report.fit)}
    if apply_all:
        chosen = report.suggestions
    else:
        keys = list(dict.fromkeys(keys or []))
        if not keys:
            raise CalibrationError(_("Choose at least one rule."))
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise CalibrationError(
                _("Not an active rule of this report: %(keys)s.") % {"keys": ", ".join(unknown)}
            )
        without = [by_key[k].label for k in keys if by_key[k].suggested_points is None]
        if without:
            raise CalibrationError(
                _("No suggestion (not enough data) for: %(names)s.") % {"names": ", ".join(without)}
            )
        chosen = [by_key[k] for k in keys]
    models = {"engagement": EngagementRule, "fit": FitRule}
    changed = []
    with transaction.atomic():
        for stat in chosen:
            rule = models[stat.kind].objects.select_for_update().get(pk=stat.rule_id)
            if rule.points == stat.suggested_points:
                continue
            old = rule.points
            rule_services.rule_update(instance=rule, by=by, points=stat.suggested_points)
            changed.append({"key": stat.key, "name": rule.name, "old_points": old, "new_points": rule.points})
    return changed


# --- The data set --------------------------------------------------------------------------------------


def calibration_dataset(*, cutoff: datetime, now: datetime, half_life_days: float) -> Dataset:
    """Gather the data set with three grouped queries (see the module docstring)."""
    engagement_rules = list(
        EngagementRule.objects.filter(active=True)
        .select_related("event_type")
        .order_by("event_type__key", "name", "id")
    )
    fit_rules = list(FitRule.objects.filter(active=True).order_by("attribute", "name", "id"))
    ruled_types = {r.event_type_id for r in engagement_rules}
    other_types = list(EventType.objects.exclude(pk__in=ruled_types).order_by("key"))

    population = _population(cutoff)
    customer_plus = _customer_transitions()
    fit_columns = {f"fit_{n}": _fit_condition(rule) for n, rule in enumerate(fit_rules)}
    contact_rows = list(
        population.alias(_industry=Lower(Trim("company__industry")))
        .annotate(
            _converted=Exists(customer_plus.filter(contact_id=OuterRef("pk"), at__gt=cutoff, at__lte=now)),
            **{
                name: Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())
                for name, condition in fit_columns.items()
            },
        )
        .order_by("pk")
        .values_list("pk", "_converted", *fit_columns)
    )
    n = len(contact_rows)
    if n:
        contact_table = np.array(contact_rows, dtype=np.int64).reshape(n, -1)
    else:
        contact_table = np.zeros((0, 2 + len(fit_rules)), dtype=np.int64)
    ids = contact_table[:, 0]
    y = contact_table[:, 1].astype(float)
    fit_x = contact_table[:, 2:].astype(float)

    # Events before the cut-off of the population, grouped by contact: per rule the count of the events
    # it matches and their decayed weight at the cut-off; per unruled event type the count.
    weight = Power(Value(2.0), _SecondsBefore(cutoff) * Value(-1.0 / (half_life_days * 86400.0)))
    aggregates = {}
    for n_rule, rule in enumerate(engagement_rules):
        condition = _rule_condition(rule)
        aggregates[f"c{n_rule}"] = Count("pk", filter=condition)
        aggregates[f"w{n_rule}"] = Coalesce(
            Sum(weight, filter=condition), Value(0.0), output_field=FloatField()
        )
    for n_type, event_type in enumerate(other_types):
        aggregates[f"t{n_type}"] = Count("pk", filter=Q(type_id=event_type.pk))
    counts = np.zeros((n, len(engagement_rules)))
    weights = np.zeros((n, len(engagement_rules)))
    type_counts = np.zeros((n, len(other_types)))
    if n and aggregates:
        event_rows = list(
            Event.objects.filter(occurred_at__lt=cutoff, contact_id__in=population.values("pk"))
            .values("contact_id")
            .annotate(**aggregates)
            .order_by()
            .values_list("contact_id", *aggregates)
        )
        if event_rows:
            table = np.array(event_rows, dtype=float).reshape(len(event_rows), -1)
            rows = np.searchsorted(ids, table[:, 0].astype(np.int64))
            k = len(engagement_rules)
            counts[rows] = table[:, 1 : 1 + 2 * k : 2]
            weights[rows] = table[:, 2 : 2 + 2 * k : 2]
            type_counts[rows] = table[:, 1 + 2 * k :]

    features = [
        FeatureStat(
            key=f"engagement:{rule.pk}",
            kind="engagement",
            label=rule.name,
            rule_id=rule.pk,
            event_type=rule.event_type.key,
            filtered=bool(rule.topic or rule.property_key),
            current_points=rule.points,
        )
        for rule in engagement_rules
    ]
    features += [
        FeatureStat(key=f"event_type:{t.key}", kind="event_type", label=t.name, event_type=t.key)
        for t in other_types
    ]
    features += [
        FeatureStat(
            key=f"fit:{rule.pk}", kind="fit", label=rule.name, rule_id=rule.pk, current_points=rule.points
        )
        for rule in fit_rules
    ]
    raw = np.hstack([counts, type_counts, fit_x]) if n else np.zeros((0, len(features)))
    X = np.hstack([np.log1p(counts), np.log1p(type_counts), fit_x]) if n else raw
    return Dataset(
        contact_ids=ids,
        y=y,
        features=features,
        X=X,
        has=raw > 0,
        rule_weights=weights,
        engagement_rules=engagement_rules,
        fit_rules=fit_rules,
    )


def _customer_stage_position() -> int | None:
    return Stage.objects.filter(key=CUSTOMER_STAGE).values_list("position", flat=True).first()


def _customer_transitions():
    """Transitions into ``customer`` or a later stage (no customer stage: none)."""
    position = _customer_stage_position()
    if position is None:
        return StageTransition.objects.none()
    return StageTransition.objects.filter(to_stage__position__gte=position)


def _population(cutoff: datetime):
    """Contacts that existed at the cut-off and had not reached customer by then."""
    before = _customer_transitions().filter(contact_id=OuterRef("pk"), at__lte=cutoff)
    return Contact.objects.filter(created_at__lte=cutoff).exclude(Exists(before))


def _rule_condition(rule: EngagementRule) -> Q:
    """The events an engagement rule matches, as ``EngagementRule.matches`` decides (as SQL)."""
    condition = Q(type_id=rule.event_type_id)
    if rule.topic:
        condition &= Q(topic=rule.topic)
    if rule.property_key:
        condition &= Q(IContains(KeyTextTransform(rule.property_key, "properties"), rule.property_contains))
    return condition


def _fit_condition(rule: FitRule) -> Q:
    """Whether a contact matches a fit rule, as ``scoring.services._fit_matches`` decides (as SQL;
    case-insensitive matching of non-ASCII letters follows the database)."""
    values = [v.strip().lower() for v in rule.value.split(",") if v.strip()]
    attribute = rule.attribute
    if attribute == FitRule.Attribute.INDUSTRY_IN:
        return Q(_industry__in=values) if values else Q(pk__in=[])
    if attribute == FitRule.Attribute.EMPLOYEES_GTE:
        return Q(company__employees__gte=int(rule.value))
    if attribute == FitRule.Attribute.JOB_TITLE_CONTAINS:
        condition = Q(pk__in=[])
        for value in values:
            condition |= Q(job_title__icontains=value)
        return condition
    if attribute == FitRule.Attribute.BUSINESS_EMAIL:
        condition = Q(email__isnull=False) & ~Q(email="")
        for domain in sorted(FREEMAIL_DOMAINS):
            condition &= ~Q(email__iendswith=f"@{domain}")
        return condition
    if attribute == FitRule.Attribute.HAS_TAG:
        links = Contact.tags.through.objects.annotate(_name=Lower("tag__name")).filter(
            contact_id=OuterRef("pk"), _name__in=values
        )
        return Q(Exists(links))
    return Q(pk__in=[])


class _SecondsBefore(Func):
    """Seconds from an event's ``occurred_at`` to the moment ``at`` (positive for earlier events)."""

    output_field = FloatField()

    def __init__(self, at: datetime):
        self.at = at
        super().__init__(F("occurred_at"))

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL
        column, params = compiler.compile(self.source_expressions[0])
        return f"EXTRACT(EPOCH FROM (%s::timestamptz - {column}))::float8", [self.at, *params]

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        at = connection.ops.adapt_datetimefield_value(self.at)
        return f"((julianday(%s) - julianday({column})) * 86400.0)", [at, *params]


# --- Statistics: pure functions ------------------------------------------------------------------------


def fit_logistic(X, y, *, l2: float = L2, max_iter: int = 100, tol: float = 1e-9) -> tuple[float, np.ndarray]:
    """L2-regularised logistic regression by Newton's method (IRLS). Returns ``(intercept, coefs)`` on
    the scale of the columns of ``X``.

    Columns are standardised first so that one penalty ``l2`` (on the standardised coefficients, not
    on the intercept) treats counts and 0/1 attributes alike; a constant column gets coefficient 0.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, k = X.shape
    mean = X.mean(axis=0) if n else np.zeros(k)
    sd = X.std(axis=0) if n else np.ones(k)
    varies = sd > 1e-12
    Z = np.zeros_like(X)
    Z[:, varies] = (X[:, varies] - mean[varies]) / sd[varies]
    A = np.hstack([np.ones((n, 1)), Z])
    penalty = np.full(k + 1, l2)
    penalty[0] = 0.0
    beta = np.zeros(k + 1)
    if n:
        rate = min(max(y.mean(), 1e-6), 1 - 1e-6)
        beta[0] = math.log(rate / (1 - rate))
    for _iteration in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(A @ beta, -35, 35)))
        gradient = A.T @ (y - p) - penalty * beta
        hessian = (A * (p * (1 - p))[:, None]).T @ A + np.diag(penalty) + 1e-10 * np.eye(k + 1)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.max(np.abs(step)) < tol:
            break
    coefs = np.zeros(k)
    coefs[varies] = beta[1:][varies] / sd[varies]
    intercept = float(beta[0] - np.sum(coefs * mean))
    return intercept, coefs


def roc_auc(scores, outcomes) -> float | None:
    """The area under the ROC curve: the chance that a random converter scores higher than a random
    non-converter, ties counting half (Mann–Whitney U with mid-ranks). None without both classes."""
    scores = np.asarray(scores, dtype=float)
    outcomes = np.asarray(outcomes).astype(bool)
    positives, negatives = int(outcomes.sum()), int((~outcomes).sum())
    if not positives or not negatives:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    # Mid-ranks: every run of equal scores gets the mean of the ranks it spans (1-based).
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + 1 + end) / 2.0
    u = ranks[outcomes].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def lift_counts(has, y) -> dict:
    """Contacts and converters with and without a feature, their conversion rates and the lift
    (rate with / rate without; None when a side is empty or nobody without it converted)."""
    has = np.asarray(has).astype(bool)
    y = np.asarray(y).astype(bool)
    with_n, without_n = int(has.sum()), int((~has).sum())
    with_c, without_c = int((has & y).sum()), int((~has & y).sum())
    rate_with = with_c / with_n if with_n else None
    rate_without = without_c / without_n if without_n else None
    lift = rate_with / rate_without if rate_with is not None and rate_without else None
    return {
        "with_contacts": with_n,
        "with_converters": with_c,
        "without_contacts": without_n,
        "without_converters": without_c,
        "rate_with": rate_with,
        "rate_without": rate_without,
        "lift": lift,
    }


def suggest_points(features: list[FeatureStat]) -> float | None:
    """Set ``suggested_points`` on the rules with a coefficient: coefficient × scale, rounded and
    clamped to ±1000. Returns the scale (None: nothing to scale by).

    The scale makes the *median rule* keep its points: it is the median of points ÷ coefficient over
    the rules that score positively now and in the model, each rule weighted by its points (so that
    a 1-point rule, whose ratio rounding distorts, cannot set the scale, and neither can a rule with a
    tiny coefficient, whose ratio is extreme). Applying a suggestion moves that rule's ratio to about
    the median, which leaves the median (nearly) where it is: the other suggestions do not drift.
    """
    rules = [f for f in features if f.kind in ("engagement", "fit") and f.coefficient is not None]
    pairs = [
        (f.current_points / f.coefficient, f.current_points)
        for f in rules
        if (f.current_points or 0) > 0 and f.coefficient > 1e-9
    ]
    if not pairs:  # nothing scores positively in both: match magnitudes instead
        pairs = [
            (abs(f.current_points / f.coefficient), abs(f.current_points))
            for f in rules
            if f.current_points and abs(f.coefficient) > 1e-9
        ]
    if not pairs:
        for f in rules:
            f.note = f.note or _("no points to scale by")
        return None
    scale = _weighted_median(pairs)
    for f in rules:
        f.suggested_points = int(max(-POINTS_LIMIT, min(POINTS_LIMIT, round(f.coefficient * scale))))
    return float(scale)


def threshold_table(engagement, y, thresholds: list[int], *, current: int) -> list[ThresholdRow]:
    """Had sales called every contact with engagement ≥ T at the cut-off: how many, how many of them
    converted (precision), and which share of all converters they were (recall)."""
    engagement = np.rint(np.asarray(engagement, dtype=float))
    y = np.asarray(y).astype(bool)
    total = int(y.sum())
    rows = []
    for threshold in thresholds:
        flagged = engagement >= threshold
        n, hits = int(flagged.sum()), int((flagged & y).sum())
        rows.append(
            ThresholdRow(
                threshold=threshold,
                flagged=n,
                converted=hits,
                precision=hits / n if n else None,
                recall=hits / total if total else None,
                current=threshold == current,
            )
        )
    return rows


def candidate_thresholds(current: int) -> list[int]:
    """A few thresholds around the current one."""
    values = {max(1, round(current * factor)) for factor in (0.25, 0.5, 0.75, 1, 1.5, 2)}
    return sorted(values)


# --- The threshold report -------------------------------------------------------------------------------


def threshold_report(
    *, cutoff: datetime, now: datetime, threshold: int, engagement_at_cutoff, y
) -> ThresholdReport:
    """Recorded crossings in the window against who became a customer (two grouped queries), and
    the threshold table on the data set."""
    crossings = {
        row["contact_id"]: row
        for row in ThresholdCrossing.objects.values("contact_id")
        .annotate(first=Min("crossed_at"), first_in_window=Min("crossed_at", filter=Q(crossed_at__gt=cutoff)))
        .order_by()
    }
    became = dict(
        _customer_transitions()
        .values("contact_id")
        .annotate(first=Min("at"))
        .order_by()
        .values_list("contact_id", "first")
    )
    crossed = converted = customers = missed = 0
    for contact_id, row in crossings.items():
        first_crossing = row["first_in_window"]
        if first_crossing is None or first_crossing > now:
            continue
        customer_at = became.get(contact_id)
        if customer_at is not None and customer_at <= first_crossing:
            continue  # already a customer when crossing: not a call the threshold made
        crossed += 1
        if customer_at is not None and customer_at <= now:
            converted += 1
    for contact_id, customer_at in became.items():
        if not cutoff < customer_at <= now:
            continue
        customers += 1
        first_crossing = crossings.get(contact_id, {}).get("first")
        if first_crossing is None or first_crossing > customer_at:
            missed += 1
    return ThresholdReport(
        threshold=threshold,
        crossed=crossed,
        became_customers=converted,
        precision=converted / crossed if crossed else None,
        customers=customers,
        missed=missed,
        missed_share=missed / customers if customers else None,
        auc_current=None,
        auc_model=None,
        auc_suggested=None,
        table=threshold_table(engagement_at_cutoff, y, candidate_thresholds(threshold), current=threshold),
    )


# --- Helpers ---------------------------------------------------------------------------------------


def _weighted_median(pairs: list[tuple[float, float]]) -> float:
    """The smallest value at which the weights of the values up to it reach half of all weights."""
    pairs = sorted(pairs)
    half = sum(weight for _value, weight in pairs) / 2.0
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    return pairs[-1][0]


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100.0


def _check_window(window_days) -> int:
    if isinstance(window_days, bool) or not isinstance(window_days, int):
        raise ValueError("window_days must be a whole number of days")
    if not WINDOW_MIN_DAYS <= window_days <= WINDOW_MAX_DAYS:
        raise ValueError(f"window_days must be between {WINDOW_MIN_DAYS} and {WINDOW_MAX_DAYS}")
    return window_days


def _fill_lift(feature: FeatureStat, has, y) -> None:
    for name, value in lift_counts(has, y).items():
        setattr(feature, name, value)


def _has_support(feature: FeatureStat) -> bool:
    return (
        feature.with_contacts >= MIN_SUPPORT
        and feature.with_converters >= MIN_SUPPORT_CONVERTERS
        and feature.without_contacts >= MIN_SUPPORT
    )


def _support_note(feature: FeatureStat) -> str:
    if feature.without_contacts < MIN_SUPPORT and feature.with_contacts >= MIN_SUPPORT:
        return _("nearly everyone has it: not measurable")
    return _("not enough data")


def _score_at_cutoff(data: Dataset, *, suggested: bool) -> np.ndarray:
    """Fit + engagement at the cut-off with the current points, or with the suggested points where
    there is a suggestion (daily caps not applied)."""
    by_key = {f.key: f for f in data.features}

    def points(kind: str, rule) -> float:
        stat = by_key[f"{kind}:{rule.pk}"]
        if suggested and stat.suggested_points is not None:
            return float(stat.suggested_points)
        return float(rule.points)

    engagement = data.rule_weights @ np.array([points("engagement", r) for r in data.engagement_rules])
    fit_columns = [j for j, f in enumerate(data.features) if f.kind == "fit"]
    fit = (
        data.X[:, fit_columns] @ np.array([points("fit", r) for r in data.fit_rules]) if fit_columns else 0.0
    )
    return np.rint(engagement) + fit


__all__ = [
    "CalibrationError",
    "CalibrationReport",
    "calibration_apply",
    "calibration_dataset",
    "calibration_report",
    "fit_logistic",
    "lift_counts",
    "roc_auc",
    "suggest_points",
    "threshold_table",
]
