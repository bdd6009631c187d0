"""Read-side queries of scoring: a contact's score explained, its topics and its activity events.

Scores are computed live from the accumulators (see :mod:`scoring.decay`) at ``now``, so they are
exact at the moment of reading even when the periodic refresh has not yet stored the decayed value.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from funnel.models import Contact
from scoring import decay
from scoring.models import ContactRuleScore, ContactScore, ContactTopic, Event, FitRule, ScoringSettings
from scoring.services import _fit_matches


def contact_score(*, contact: Contact, now: datetime | None = None) -> dict:
    """The contact's score with its explanation, in the shape of ``GET /contacts/{id}/score/``:

    ``{"score", "fit_score", "engagement_score", "breakdown": [{"rule", "points", "events"}],
    "topics": [{"topic", "weight"}], "fit_breakdown": [{"rule", "points"}]}``.
    """
    now = now or timezone.now()
    half_life = ScoringSettings.load().half_life_days
    state = ContactScore.objects.filter(contact_id=contact.pk).first()
    if state is None:
        return {
            "score": 0,
            "fit_score": 0,
            "engagement_score": 0,
            "breakdown": [],
            "topics": [],
            "fit_breakdown": [],
        }
    engagement = round(decay.value(state.engagement_acc, now, half_life))
    breakdown = [
        {"rule": name, "points": round(decay.value(acc, now, half_life), 2), "events": events}
        for name, acc, events in ContactRuleScore.objects.filter(contact_id=contact.pk)
        .order_by("rule__name", "rule_id")
        .values_list("rule__name", "acc", "events")
    ]
    breakdown.sort(key=lambda row: -row["points"])  # stable: equal points keep name order
    return {
        "score": engagement + state.fit_score,
        "fit_score": state.fit_score,
        "engagement_score": engagement,
        "breakdown": breakdown,
        "topics": _topics(contact=contact, now=now, half_life=half_life),
        "fit_breakdown": _fit_breakdown(contact=contact),
    }


def contact_topics(*, contact: Contact, now: datetime | None = None) -> list[dict]:
    """``[{"topic", "weight"}]`` by decayed weight, heaviest first (weights rounded to 2 decimals)."""
    return _topics(
        contact=contact, now=now or timezone.now(), half_life=ScoringSettings.load().half_life_days
    )


def contact_events(*, contact: Contact) -> QuerySet[Event]:
    """The contact's events, newest first (the order the timeline index serves), with the type."""
    return Event.objects.filter(contact_id=contact.pk).select_related("type").order_by("-occurred_at", "-id")


def _topics(*, contact: Contact, now: datetime, half_life: int) -> list[dict]:
    rows = [
        {"topic": topic, "weight": round(decay.value(acc, now, half_life), 2)}
        for topic, acc in ContactTopic.objects.filter(contact_id=contact.pk)
        .order_by("topic")
        .values_list("topic", "acc")
    ]
    rows.sort(key=lambda row: -row["weight"])
    return rows


def _fit_breakdown(*, contact: Contact) -> list[dict]:
    """The active fit rules the contact matches now (the same test :func:`scoring.services.fit_points`
    uses), with their points."""
    rules = list(FitRule.objects.filter(active=True).order_by("id"))
    if not rules:
        return []
    contact = Contact.objects.select_related("company").prefetch_related("tags").get(pk=contact.pk)
    tag_names = {t.name.lower() for t in contact.tags.all()}
    return [
        {"rule": rule.name, "points": rule.points}
        for rule in rules
        if _fit_matches(rule, contact, contact.company, tag_names)
    ]
