"""Scoring: apply stored events to the contacts they are about, keep fit scores, refresh decay.

Every function here is safe to run twice and on several workers at once: events are claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` and marked applied in the same transaction that adds their
points; a threshold crossing is recorded when the stored ``above_threshold`` flag flips, and its
notification carries the crossing's id as a unique key.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.sql import update_rows, upsert_add
from funnel.models import Contact, Stage
from funnel.services import contact_move_stage_many
from notifications.models import Notification
from notifications.services import notifications_create
from scoring import decay
from scoring.models import (
    ContactRuleScore,
    ContactScore,
    ContactTopic,
    EngagementRule,
    Event,
    EventType,
    FitRule,
    RuleDayCount,
    ScoringSettings,
    StageRule,
    ThresholdCrossing,
)
from scoring.signals import events_applied, scores_changed, threshold_crossed
from webhooks import events as webhook_events

logger = logging.getLogger(__name__)

APPLY_BATCH = 2000
FREEMAIL_DOMAINS = frozenset(
    """gmail.com googlemail.com yahoo.com yahoo.de hotmail.com hotmail.de outlook.com outlook.de live.com
    live.de msn.com icloud.com me.com aol.com gmx.de gmx.net gmx.at gmx.ch web.de t-online.de freenet.de
    mail.de posteo.de mailbox.org proton.me protonmail.com yandex.com mail.ru""".split()
)


@dataclass
class _Rules:
    settings: ScoringSettings
    engagement_by_type: dict[int, list[EngagementRule]]
    fit: list[FitRule]
    stage_rules: list[StageRule]
    fast_lane_types: frozenset[int]
    stage_positions: dict[int, int]


def _load_rules() -> _Rules:
    engagement: dict[int, list[EngagementRule]] = defaultdict(list)
    for rule in EngagementRule.objects.filter(active=True).order_by("id"):
        engagement[rule.event_type_id].append(rule)
    stage_rules = list(
        StageRule.objects.filter(active=True)
        .select_related("from_stage", "to_stage")
        .order_by("to_stage__position", "id")
    )
    return _Rules(
        settings=ScoringSettings.load(),
        engagement_by_type=dict(engagement),
        fit=list(FitRule.objects.filter(active=True).order_by("id")),
        stage_rules=stage_rules,
        fast_lane_types=frozenset(EventType.objects.filter(fast_lane=True).values_list("id", flat=True)),
        stage_positions=dict(Stage.objects.values_list("id", "position")),
    )


# --- Applying events ------------------------------------------------------------------------------


def events_apply_pending(*, limit: int = APPLY_BATCH, now: datetime | None = None) -> int:
    """Apply up to ``limit`` stored events not yet applied; returns how many were claimed."""
    fixed_now = now
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(applied_at__isnull=True)
            .order_by("id")
            .values_list("id", "contact_id", "type_id", "topic", "properties", "occurred_at")[:limit]
        )
        if not rows:
            return 0
        # Lock the contacts' score rows first, in contact order, as a rebuild batch does
        # (scoring.rebuild): applying events and rebuilding the same contact then run one after the
        # other, never interleaved. The rules are read after the lock, so events applied after a
        # rebuild passed these contacts use the rules that rebuild used.
        new_contacts = _lock_scores(sorted({r[1] for r in rows if r[1] is not None}))
        rules = _load_rules()
        if new_contacts:
            fit_recompute(contact_ids=new_contacts, rules=rules, store=False)
        _apply(rows, rules, now)
        # Stamped after the work, so applied_at − received_at measures the event-to-score latency.
        Event.objects.filter(id__in=[r[0] for r in rows]).update(applied_at=fixed_now or timezone.now())
    return len(rows)


def _apply(rows, rules: _Rules, now: datetime) -> None:
    rows = [r for r in rows if r[1] is not None]  # anonymous events count once identified
    if not rows:
        return
    rows.sort(key=lambda r: (r[5], r[0]))  # in order of occurrence, as a rebuild would see them
    contact_ids = sorted({r[1] for r in rows})

    capped_ids = [r.id for rs in rules.engagement_by_type.values() for r in rs if r.daily_cap]
    day_used: dict[tuple[int, int, object], int] = {}
    if capped_ids:
        days = {r[5].date() for r in rows}
        for c, rule_id, day, points in RuleDayCount.objects.filter(
            contact_id__in=contact_ids, rule_id__in=capped_ids, day__in=days
        ).values_list("contact_id", "rule_id", "day", "points"):
            day_used[(c, rule_id, day)] = points
    tally = _tally(rows, rules, day_used)
    _write_tally(tally)
    # The score rows exist and are locked (events_apply_pending → _lock_scores); insert_only is
    # only what a new row would need.
    upsert_add(
        ContactScore,
        ("contact_id",),
        ("engagement_acc",),
        [(c, a) for c, a in tally.acc.items()],
        insert_only={"fit_score": 0, "fit_grade": "D", "above_threshold": False},
    )
    crossed = _store_scores(contact_ids, rules, now)
    _apply_stage_rules(contact_ids, tally.types_seen, crossed, rules)
    transaction.on_commit(
        partial(_announce, events_applied, sender=Event, events=[(r[0], r[1], r[2], r[3]) for r in rows])
    )


@dataclass
class _Tally:
    rule: dict[tuple[int, int], list]  # (contact, rule) → [events, acc]
    topic: dict[tuple[int, str], list]  # (contact, topic) → [events, acc]
    acc: dict[int, float]  # contact → engagement acc
    day_added: dict[tuple[int, int, object], int]  # (contact, capped rule, day) → points counted
    types_seen: dict[int, set[int]]  # contact → event types


def _tally(rows, rules: _Rules, day_used: dict[tuple[int, int, object], int]) -> _Tally:
    """What these events (identified, in order of occurrence) add under ``rules``; ``day_used`` has
    the points capped rules gave earlier on the same days. Shared with the rebuild (scoring.rebuild)."""
    half_life = rules.settings.half_life_days
    day_added: dict[tuple[int, int, object], int] = defaultdict(int)

    rule_delta: dict[tuple[int, int], list] = defaultdict(lambda: [0, 0.0])
    topic_delta: dict[tuple[int, str], list] = defaultdict(lambda: [0, 0.0])
    acc_delta: dict[int, float] = defaultdict(float)
    types_seen: dict[int, set[int]] = defaultdict(set)

    for _id, contact_id, type_id, topic, properties, occurred_at in rows:
        types_seen[contact_id].add(type_id)
        weight = decay.growth(occurred_at, half_life)
        for rule in rules.engagement_by_type.get(type_id, ()):
            if not rule.matches(topic=topic, properties=properties or {}):
                continue
            points = rule.points
            if rule.daily_cap and points > 0:
                key = (contact_id, rule.id, occurred_at.date())
                used = day_used.get(key, 0) + day_added[key]
                points = max(0, min(points, rule.daily_cap - used))
                day_added[key] += points
            entry = rule_delta[(contact_id, rule.id)]
            entry[0] += 1
            entry[1] += points * weight
            acc_delta[contact_id] += points * weight
        if topic:
            entry = topic_delta[(contact_id, topic)]
            entry[0] += 1
            entry[1] += weight
    return _Tally(rule_delta, topic_delta, acc_delta, day_added, types_seen)


def _write_tally(tally: _Tally) -> None:
    """Add a tally's per-rule, per-topic and per-day numbers to the stored ones."""
    upsert_add(
        ContactRuleScore,
        ("contact_id", "rule_id"),
        ("events", "acc"),
        [(*k, *v) for k, v in tally.rule.items()],
    )
    upsert_add(
        ContactTopic, ("contact_id", "topic"), ("events", "acc"), [(*k, *v) for k, v in tally.topic.items()]
    )
    upsert_add(
        RuleDayCount,
        ("contact_id", "rule_id", "day"),
        ("points",),
        [(c, r, day, p) for (c, r, day), p in tally.day_added.items() if p],
    )


def _lock_scores(contact_ids: list[int]) -> list[int]:
    """Create missing score rows and lock all of these contacts' rows in contact order; returns the
    ids whose row is new (their fit is not known yet)."""
    missing = _ensure_scores(contact_ids)
    list(
        ContactScore.objects.select_for_update()
        .filter(contact_id__in=contact_ids)
        .order_by("contact_id")
        .values_list("contact_id", flat=True)
    )
    return missing


def _ensure_scores(contact_ids: list[int]) -> list[int]:
    """Create missing ContactScore rows; returns the ids that had none (their fit is not known yet)."""
    existing = set(
        ContactScore.objects.filter(contact_id__in=contact_ids).values_list("contact_id", flat=True)
    )
    missing = [c for c in contact_ids if c not in existing]
    ContactScore.objects.bulk_create([ContactScore(contact_id=c) for c in missing], ignore_conflicts=True)
    return missing


def _store_scores(
    contact_ids, rules: _Rules, now: datetime, *, record_crossings: bool = True
) -> dict[int, bool]:
    """Write the current scores of these contacts to the columns lists sort by; record upward
    threshold crossings (unless ``record_crossings`` is off: a rebuild changes scores because rules
    changed, not because the contact did something). Returns {contact id: is at or above the sales
    threshold now}."""
    settings = rules.settings
    half_life = settings.half_life_days
    threshold = settings.sales_threshold
    states = list(
        ContactScore.objects.select_for_update(of=("self",))
        .filter(contact_id__in=contact_ids)
        .order_by("contact_id")  # the same lock order in every worker
        .select_related("contact")
        .only(
            "contact_id",
            "engagement_acc",
            "fit_score",
            "fit_grade",
            "above_threshold",
            "due_at",
            "contact__owner_id",
        )
    )
    contacts, crossings, above = [], [], {}
    for state in states:
        engagement = round(decay.value(state.engagement_acc, now, half_life))
        is_above = engagement >= threshold
        if is_above and not state.above_threshold and record_crossings:
            crossings.append(
                ThresholdCrossing(
                    contact_id=state.contact_id,
                    crossed_at=now,
                    engagement=engagement,
                    threshold=threshold,
                    owner_id=state.contact.owner_id,
                )
            )
        state.above_threshold = is_above
        state.due_at = decay.next_change_at(state.engagement_acc, engagement, half_life)
        above[state.contact_id] = is_above
        contacts.append(
            Contact(
                pk=state.contact_id,
                engagement_score=engagement,
                fit_score=state.fit_score,
                score=engagement + state.fit_score,
            )
        )
    update_rows(
        ContactScore,
        "contact_id",
        {"above_threshold": "boolean", "due_at": "timestamptz"},
        [(s.contact_id, s.above_threshold, s.due_at) for s in states],
    )
    update_rows(
        Contact,
        "id",
        {"engagement_score": "integer", "fit_score": "integer", "score": "integer"},
        [(c.pk, c.engagement_score, c.fit_score, c.score) for c in contacts],
    )
    if crossings:
        _record_crossings(crossings)
    if record_crossings and states:
        ids = [s.contact_id for s in states]
        transaction.on_commit(partial(_announce, scores_changed, sender=ContactScore, contact_ids=ids))
    return above


def _record_crossings(crossings: list[ThresholdCrossing]) -> None:
    ThresholdCrossing.objects.bulk_create(crossings)  # sets the ids the notification keys use
    webhook_events.threshold_crossed(crossings)
    names = dict(
        Contact.objects.filter(pk__in=[c.contact_id for c in crossings]).values_list("pk", "first_name")
    )
    notifications_create(
        notifications=[
            Notification(
                user_id=c.owner_id,
                kind="threshold_crossed",
                title=_("%(name)s reached the sales threshold")
                % {"name": names.get(c.contact_id) or f"#{c.contact_id}"},
                body=_("Engagement %(engagement)s ≥ %(threshold)s: the right time to call.")
                % {"engagement": c.engagement, "threshold": c.threshold},
                contact_id=c.contact_id,
                dedupe_key=f"threshold:{c.pk}",
            )
            for c in crossings
            if c.owner_id
        ]
    )
    # After commit (the sales app makes a call task of each); robust: a failing receiver must not keep
    # the callbacks registered after this one (scores_changed) from running.
    rows = [(c.pk, c.contact_id, c.owner_id) for c in crossings]
    send = partial(_announce, threshold_crossed, sender=ThresholdCrossing, crossings=rows)
    transaction.on_commit(send, robust=True)


def _apply_stage_rules(
    contact_ids, types_seen: dict[int, set[int]], above: dict[int, bool], rules: _Rules
) -> None:
    """Forward moves that the new events (or a reached threshold) trigger, recorded with the rule
    as the reason, through ``contact_move_stage_many`` (the bulk form of ``contact_move_stage``)."""
    if not rules.stage_rules:
        return
    grades = dict(
        ContactScore.objects.filter(contact_id__in=contact_ids).values_list("contact_id", "fit_grade")
    )
    positions = dict(Contact.objects.filter(pk__in=contact_ids).values_list("pk", "stage__position"))
    moves: dict[int, list[tuple[Stage, str]]] = {}
    for contact_id, position in positions.items():
        seen = types_seen.get(contact_id, set())
        for rule in rules.stage_rules:
            if not rule.from_stage.position <= position < rule.to_stage.position:
                continue
            if _triggered(rule, seen, above.get(contact_id, False), grades.get(contact_id, "D"), rules):
                moves.setdefault(contact_id, []).append((rule.to_stage, rule.name))
                position = rule.to_stage.position
    contact_move_stage_many(moves=moves, reason=_("automatic rule"))


def _triggered(rule: StageRule, seen: set[int], is_above: bool, grade: str, rules: _Rules) -> bool:
    trigger = rule.trigger
    if trigger == StageRule.Trigger.IDENTIFIED_ACTIVITY:
        return bool(seen)
    if trigger == StageRule.Trigger.EVENT_TYPE:
        return rule.event_type_id in seen
    if trigger == StageRule.Trigger.FAST_LANE:
        return bool(seen & rules.fast_lane_types)
    if trigger == StageRule.Trigger.RIGHT_TIME:
        return is_above and grade in ("A", "B")
    return False


def _announce(signal, **kwargs) -> None:
    """Send an after-commit signal to every receiver even if one fails: the events are applied and
    committed, so a failing receiver (nurturing, sales, the detector) must not keep the others from
    reacting. Each reaction also has a periodic sweep that catches up on what was missed."""
    for receiver, result in signal.send_robust(**kwargs):
        if isinstance(result, Exception):
            logger.error("Receiver %r of a scoring signal failed", receiver, exc_info=result)


# --- Fit ------------------------------------------------------------------------------------------


def fit_points(*, contact: Contact, rules: list[FitRule], tag_names: set[str]) -> int:
    company = contact.company
    total = 0
    for rule in rules:
        if _fit_matches(rule, contact, company, tag_names):
            total += rule.points
    return total


def _fit_matches(rule: FitRule, contact: Contact, company, tag_names: set[str]) -> bool:
    values = [v.strip().lower() for v in rule.value.split(",") if v.strip()]
    attr = rule.attribute
    if attr == FitRule.Attribute.INDUSTRY_IN:
        return bool(company and company.industry and company.industry.strip().lower() in values)
    if attr == FitRule.Attribute.EMPLOYEES_GTE:
        return bool(company and company.employees is not None and company.employees >= int(rule.value))
    if attr == FitRule.Attribute.JOB_TITLE_CONTAINS:
        title = contact.job_title.lower()
        return any(v in title for v in values)
    if attr == FitRule.Attribute.BUSINESS_EMAIL:
        domain = (contact.email or "").rpartition("@")[2].lower()
        return bool(domain) and domain not in FREEMAIL_DOMAINS
    if attr == FitRule.Attribute.HAS_TAG:
        return any(v in tag_names for v in values)
    return False


@transaction.atomic
def fit_recompute(
    *, contact_ids, rules: _Rules | None = None, now: datetime | None = None, store: bool = True
) -> None:
    """Recompute fit score and grade of these contacts (and, with ``store``, their stored scores)."""
    rules = rules or _load_rules()
    contact_ids = list(contact_ids)
    _ensure_scores(contact_ids)
    contacts = Contact.objects.filter(pk__in=contact_ids).select_related("company").prefetch_related("tags")
    states = {s.contact_id: s for s in ContactScore.objects.filter(contact_id__in=contact_ids)}
    for contact in contacts:
        state = states[contact.pk]
        state.fit_score = fit_points(
            contact=contact, rules=rules.fit, tag_names={t.name.lower() for t in contact.tags.all()}
        )
        state.fit_grade = rules.settings.grade(state.fit_score)
    update_rows(
        ContactScore,
        "contact_id",
        {"fit_score": "integer", "fit_grade": "varchar"},
        [(s.contact_id, s.fit_score, s.fit_grade) for s in states.values()],
    )
    if store:
        _store_scores(contact_ids, rules, now or timezone.now())


# --- Decay ----------------------------------------------------------------------------------------


def scores_refresh_due(*, limit: int = 5000, now: datetime | None = None) -> int:
    """Store the decayed scores of contacts whose shown score changes by now (see scoring.decay)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            ContactScore.objects.select_for_update(skip_locked=True)
            .filter(due_at__lte=now)
            .order_by("due_at")
            .values_list("contact_id", flat=True)[:limit]
        )
        if due:
            _store_scores(due, _load_rules(), now)
    return len(due)
