"""Demo activity for the demo contacts of ``manage.py load_demo``: eighteen months of events that fit
each contact's stage history, so that the scores, the contact timelines and the calibration page
(:mod:`scoring.calibration`) have something real to show.

What the events look like
-------------------------
Per stage a contact passes, events arrive at stage-typical rates (suspects: a page view now and then;
leads: newsletter clicks and downloads; prospects: service calls, price and demo requests, offers;
customers and later: purchases and usage). Contacts that eventually become customers were more
engaged *before* their purchase — more downloads, service calls, fast-lane requests, pricing-page
visits — than those who never convert; that is the signal the calibration should find, and it lies
before the customer transition, as it would in life. The moves' own reasons (a trade fair, a
whitepaper, a price request) get their matching event at the moment of the move.

Idempotent and deterministic
----------------------------
Events are derived from the contacts' stored transitions (not from today's date), with one random
generator per contact seeded by the demo seed and the contact's email, and stored under stable ids
``demo-<contact id>-<n>``: a second run derives the same events and ``bulk_create(ignore_conflicts)``
stores nothing.

How scores are computed — and why not through the engine
--------------------------------------------------------
Stored events are normally applied by ``scoring.services.events_apply_pending``, which also runs the
stage rules and records threshold crossings *now*. For history that is wrong twice: the stage rules
would move demo contacts away from their planned stages (every identified activity makes a suspect a
lead), and every crossing would be dated today. So the events are stored already applied
(``applied_at`` = their time) and the scores are recomputed by a full rebuild (``scoring.rebuild``:
``rebuild_request`` + ``rebuild_run``, synchronously here), which is exactly "scores from stored
events under the current rules", without stage rules and without crossings. The crossings the demo
history would have produced are derived here instead, replaying each contact's events with the
current rules and half-life (:func:`_crossings`), dated when they happened. The rebuild's queued task
(after commit) finds the job done and does nothing.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models.functions import Lower

from funnel import demo as funnel_demo
from funnel.models import Contact, StageTransition
from scoring import decay
from scoring.models import EngagementRule, Event, EventType, ScoringSettings, ThresholdCrossing
from scoring.rebuild import rebuild_request, rebuild_run

EXTERNAL_ID_PREFIX = "demo-"

# Events per 30 days in each stage (by index into funnel.demo.STAGE_KEYS).
RATES = {
    0: {"page_view": 0.8, "email_open": 0.4},
    1: {
        "page_view": 2.0,
        "email_open": 2.0,
        "newsletter_click": 0.5,
        "download": 0.2,
        "form_submit": 0.08,
        "service_call": 0.08,
    },
    2: {
        "page_view": 2.5,
        "email_open": 1.5,
        "newsletter_click": 0.4,
        "download": 0.4,
        "form_submit": 0.15,
        "service_call": 0.4,
        "price_request": 0.2,
        "demo_request": 0.1,
        "consultation_request": 0.1,
        "offer_sent": 0.3,
    },
    3: {"page_view": 1.2, "email_open": 1.0, "service_call": 0.6, "usage": 0.5},
    4: {"page_view": 0.8, "email_open": 1.0, "service_call": 0.5, "usage": 3.0},
    5: {"page_view": 0.8, "email_open": 1.0, "usage": 2.0, "referral": 0.05},
}
# Before their purchase, contacts that will become customers do these more often.
CONVERTER_BOOST = {
    "download": 3.0,
    "service_call": 3.0,
    "price_request": 2.5,
    "demo_request": 2.5,
    "consultation_request": 2.5,
    "newsletter_click": 2.0,
    "form_submit": 2.0,
    "page_view": 1.3,
}
QUIET_SHARE = 0.25
QUIET_FACTOR = 0.3
PAGES = (
    "/",
    "/leistungen/leiterplattendesign",
    "/leistungen/ems",
    "/referenzen",
    "/blog/emv-layout",
    "/kontakt",
)
PRICING_PAGE = "/pricing"
TOPICS = ("emv", "pcb-design", "ems", "prototyp", "serienfertigung", "bga")
DOWNLOADS = {
    "emv": "whitepaper-emv-gerechtes-layout.pdf",
    "pcb-design": "checkliste-leiterplattendesign.pdf",
    "ems": "leitfaden-ems-partner.pdf",
    "prototyp": "vom-prototyp-zur-serie.pdf",
    "serienfertigung": "serienfertigung-kosten.pdf",
    "bga": "bga-bestueckung-faq.pdf",
}
# A move's reason (funnel.demo.REASONS) → the event that caused it.
REASON_EVENTS = (
    ("embedded world", "trade_fair_visit", ""),
    ("Whitepaper", "download", "emv"),
    ("Newsletter-Anmeldung", "form_submit", ""),
    ("Kontaktformular", "form_submit", ""),
    ("Webinar", "form_submit", "prototyp"),
    ("NDA", "form_submit", ""),
    ("Angebot für Prototypen", "price_request", "prototyp"),
    ("Preisanfrage", "price_request", "serienfertigung"),
    ("Technische Anfrage", "service_call", "bga"),
    ("Projektbesprechung", "consultation_request", "pcb-design"),
)


@dataclass
class DemoEventsResult:
    events_created: int
    crossings_created: int
    rebuilt: bool


@dataclass
class _Planned:
    contact_id: int
    owner_id: int | None
    events: list[dict] = field(default_factory=list)


def load_demo_events(*, seed: int = funnel_demo.DEFAULT_SEED) -> DemoEventsResult:
    """Store the demo contacts' events that are missing, their historic threshold crossings, and
    rebuild the scores if anything was added. A second run adds nothing and rebuilds nothing."""
    emails = [p.email.lower() for p in funnel_demo.build_plan(seed=seed).contacts]
    contacts = list(
        Contact.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
        .order_by("pk")
        .values_list("pk", "email_lower", "owner_id")
    )
    if not contacts:
        return DemoEventsResult(0, 0, False)
    histories = _histories([pk for pk, _email, _owner in contacts])
    anchor = max(at for history in histories.values() for _stage, at, _reason in history)
    types = dict(EventType.objects.values_list("key", "pk"))
    planned = [
        _plan_contact(pk, owner, histories[pk], anchor=anchor, seed=f"{seed}:{email}", types=types)
        for pk, email, owner in contacts
        if pk in histories
    ]
    with transaction.atomic():
        existing = set(
            Event.objects.filter(
                external_id__startswith=EXTERNAL_ID_PREFIX, contact_id__in=[p.contact_id for p in planned]
            ).values_list("external_id", flat=True)
        )
        new = [Event(**e) for e in (e for p in planned for e in p.events) if e["external_id"] not in existing]
        Event.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        # Crossings only for contacts whose demo events are all new: a second run adds none.
        fresh = [p for p in planned if not any(e["external_id"] in existing for e in p.events)]
        crossings = _crossings(fresh, types) if new else []
        ThresholdCrossing.objects.bulk_create(crossings, batch_size=1000)
        rebuilt = False
        if new:
            job = rebuild_request(reason="demo events loaded")
            rebuild_run(job_id=job.pk)
            rebuilt = True
    return DemoEventsResult(events_created=len(new), crossings_created=len(crossings), rebuilt=rebuilt)


# --- Planning one contact's events -----------------------------------------------------------------


def _histories(contact_ids: list[int]) -> dict[int, list[tuple[int, datetime, str]]]:
    """Per contact its moves as (stage index, at, reason), in order."""
    index = {key: n for n, key in enumerate(funnel_demo.STAGE_KEYS)}
    histories: dict[int, list] = {}
    rows = (
        StageTransition.objects.filter(contact_id__in=contact_ids)
        .order_by("contact_id", "at", "id")
        .values_list("contact_id", "to_stage__key", "at", "reason")
    )
    for contact_id, key, at, reason in rows:
        if key in index:
            histories.setdefault(contact_id, []).append((index[key], at, reason))
    return histories


def _plan_contact(contact_id, owner_id, history, *, anchor: datetime, seed: str, types: dict) -> _Planned:
    rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    customer_at = next((at for stage, at, _reason in history if stage >= 3), None)
    converter = customer_at is not None
    # Some customers buy without leaving much of a trail (a phone call, a partner's recommendation):
    # the misses the threshold report should show.
    quiet = converter and rng.random() < QUIET_SHARE
    planned = _Planned(contact_id=contact_id, owner_id=owner_id)
    raw: list[tuple[datetime, str, str, dict]] = []

    for (stage, start, reason), following in zip(history, [*history[1:], None], strict=True):
        end = following[1] if following else anchor
        before_purchase = customer_at is None or start < customer_at
        if not (quiet and before_purchase):
            raw += _reason_event(rng, stage, start, reason, converter)
        days = max(0.0, (end - start).total_seconds() / 86400)
        for type_key, rate in RATES[stage].items():
            if quiet and before_purchase:
                factor = QUIET_FACTOR
            elif converter and before_purchase:
                factor = CONVERTER_BOOST.get(type_key, 1.0)
            else:
                factor = 1.0
            mean = rate * days / 30 * factor
            for _n in range(_poisson(rng, mean)):
                at = _working_hours(rng, start + timedelta(seconds=rng.uniform(0, days * 86400)))
                if at >= end:
                    continue
                topic, properties = _details(rng, type_key, converter and at < (customer_at or at))
                raw.append((at, type_key, topic, properties))

    raw.sort(key=lambda e: (e[0], e[1]))
    for n, (at, type_key, topic, properties) in enumerate(raw, start=1):
        if type_key not in types:
            continue  # a built-in type someone renamed away: leave it out
        planned.events.append(
            {
                "external_id": f"{EXTERNAL_ID_PREFIX}{contact_id}-{n}",
                "type_id": types[type_key],
                "contact_id": contact_id,
                "topic": topic,
                "properties": properties,
                "occurred_at": at,
                "received_at": at,
                "applied_at": at,
            }
        )
    return planned


def _reason_event(rng, stage: int, at: datetime, reason: str, converter: bool) -> list:
    """The event that a move's reason tells of, just before the move; a purchase at the customer move."""
    events = []
    before = at - timedelta(minutes=rng.randint(5, 90))
    for needle, type_key, topic in REASON_EVENTS:
        if needle in reason:
            _topic, properties = _details(rng, type_key, converter)
            events.append((before, type_key, topic, properties))
            break
    if stage == 3:
        events.append((at, "purchase", "", {"order": f"A-{rng.randint(10000, 99999)}"}))
    elif stage == 5:
        events.append((at, "referral" if "empfohlen" in reason else "reference_given", "", {}))
    return events


def _details(rng, type_key: str, keen: bool) -> tuple[str, dict]:
    if type_key == "page_view":
        url = PRICING_PAGE if rng.random() < (0.3 if keen else 0.08) else rng.choice(PAGES)
        return "", {"url": url}
    if type_key == "download":
        topic = rng.choice(TOPICS)
        return topic, {"file": DOWNLOADS[topic]}
    if type_key in ("price_request", "demo_request", "consultation_request", "service_call"):
        return rng.choice(TOPICS), {}
    return "", {}


def _working_hours(rng, at: datetime) -> datetime:
    """The same day between 07:00 and 18:59 UTC; Saturday and Sunday move to Monday."""
    at = at.replace(
        hour=rng.randint(7, 18), minute=rng.randint(0, 59), second=rng.randint(0, 59), microsecond=0
    )
    if at.weekday() >= 5:
        at += timedelta(days=7 - at.weekday())
    return at


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method (means here are small); math.exp keeps it deterministic across platforms."""
    if mean <= 0:
        return 0
    if mean > 30:  # normal approximation for the rare long-lived contact
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# --- Historic threshold crossings ---------------------------------------------------------------


def _crossings(planned: list[_Planned], types: dict) -> list[ThresholdCrossing]:
    """Replay each contact's events with the current rules (daily caps included) and record when its
    decaying engagement rose to the sales threshold — what the engine would have recorded live."""
    settings = ScoringSettings.load()
    half_life, threshold = settings.half_life_days, settings.sales_threshold
    rules_by_type: dict[int, list[EngagementRule]] = {}
    for rule in EngagementRule.objects.filter(active=True).order_by("id"):
        rules_by_type.setdefault(rule.event_type_id, []).append(rule)
    crossings = []
    for contact in planned:
        acc, above, day_used = 0.0, False, {}
        for event in contact.events:
            at = event["occurred_at"]
            before = decay.value(acc, at, half_life)
            if above and round(before) < threshold:
                above = False
            for rule in rules_by_type.get(event["type_id"], ()):
                if not rule.matches(topic=event["topic"], properties=event["properties"]):
                    continue
                points = rule.points
                if rule.daily_cap and points > 0:
                    key = (rule.pk, at.date())
                    points = max(0, min(points, rule.daily_cap - day_used.get(key, 0)))
                    day_used[key] = day_used.get(key, 0) + points
                acc += points * decay.growth(at, half_life)
            engagement = round(decay.value(acc, at, half_life))
            if engagement >= threshold and not above:
                above = True
                crossings.append(
                    ThresholdCrossing(
                        contact_id=contact.contact_id,
                        crossed_at=at,
                        engagement=engagement,
                        threshold=threshold,
                        owner_id=contact.owner_id,
                    )
                )
    return crossings
