"""Consumption: do customers use what they bought? (PRODUCT.md §1: a customer who buys and never
consumes stops buying and never refers anyone.)

``consumption_check`` walks the ownerships in batches of ids and, per batch, reads the last ``usage``
event of each contact and product in three grouped queries — a usage event counts for a product when
its topic is one of the product's topics or its ``properties.product`` names the product (id or
article number), and for all the contact's products when it names none. Each ownership's
``Consumption`` row then says consuming, not started yet (bought less than ``not_consuming_days``
ago, no use yet) or not consuming. An ownership that *becomes* not consuming
gets one task for the owner — or an enrollment in the configured sequence — keyed by the spell
(ownership and the day it began), so a rerun of the check repeats nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Consumption, DetectorSettings
from offers.models import Ownership, ProductTopic
from sales.models import Task
from scoring.models import Event
from webhooks import events as webhook_events

BATCH = 2000
USAGE_TYPE = "usage"


def consumption_check(*, now: datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Update every ownership's consumption state; returns how many became not consuming, per action."""
    now = now or timezone.now()
    config = DetectorSettings.load()
    topics: dict[int, set[str]] = defaultdict(set)
    for product_id, topic in ProductTopic.objects.values_list("product_id", "topic"):
        topics[product_id].add(topic)
    flagged = {"tasks": 0, "enrolled": 0}
    last_id = 0
    while True:
        rows = list(
            Ownership.objects.filter(pk__gt=last_id)
            .order_by("pk")
            .select_related("product", "contact")
            .only(
                "id",
                "contact_id",
                "product_id",
                "since",
                "product__name",
                "product__sku",
                "contact__owner_id",
                "contact__first_name",
                "contact__last_name",
                "contact__email",
            )[:batch]
        )
        if not rows:
            return flagged
        last_id = rows[-1].pk
        with transaction.atomic():
            counts = _check_batch(rows, topics, config, now)
        for key, value in counts.items():
            flagged[key] += value


def _check_batch(rows: list[Ownership], topics, config: DetectorSettings, now: datetime) -> dict[str, int]:
    contact_ids = {r.contact_id for r in rows}
    usage = Event.objects.filter(contact_id__in=contact_ids, type__key=USAGE_TYPE).order_by()
    by_topic = {
        (c, t): last
        for c, t, last in usage.exclude(topic="")
        .values_list("contact_id", "topic")
        .annotate(last=Max("occurred_at"))
    }
    by_ref = {
        (c, str(ref)): last
        for c, ref, last in usage.annotate(ref=KT("properties__product"))
        .exclude(ref=None)
        .values_list("contact_id", "ref")
        .annotate(last=Max("occurred_at"))
    }
    # A usage event that names no product (no topic, no properties.product) counts for everything
    # the contact owns: a single-product customer's tool need not say what it is reporting on.
    by_any = dict(
        usage.filter(topic="")
        .exclude(properties__has_key="product")
        .values_list("contact_id")
        .annotate(last=Max("occurred_at"))
    )
    existing = {c.ownership_id: c for c in Consumption.objects.filter(ownership__in=rows)}
    cutoff = now - timedelta(days=config.not_consuming_days)
    changed, created, newly_flagged = [], [], []
    for ownership in rows:
        refs = {str(ownership.product_id)} | ({ownership.product.sku} if ownership.product.sku else set())
        seen = [by_topic.get((ownership.contact_id, t)) for t in topics.get(ownership.product_id, ())]
        seen += [by_ref.get((ownership.contact_id, ref)) for ref in refs] + [by_any.get(ownership.contact_id)]
        last = max((s for s in seen if s is not None), default=None)
        if last is not None and last >= cutoff:
            state = Consumption.State.CONSUMING
        elif last is None and ownership.since >= cutoff:
            state = Consumption.State.STARTING
        else:
            state = Consumption.State.NOT_CONSUMING
        row = existing.get(ownership.pk)
        if row is None:
            row = Consumption(
                ownership=ownership, contact_id=ownership.contact_id, product_id=ownership.product_id
            )
            created.append(row)
        elif row.state != state or row.last_usage_at != last:
            changed.append(row)
        if state == Consumption.State.NOT_CONSUMING and row.state != Consumption.State.NOT_CONSUMING:
            row.flagged_at = now
            newly_flagged.append((ownership, row))
        elif state != Consumption.State.NOT_CONSUMING:
            row.flagged_at = None
        row.state, row.last_usage_at, row.checked_at = state, last, now
    Consumption.objects.bulk_create(created, batch_size=1000)
    Consumption.objects.bulk_update(
        changed, ["state", "last_usage_at", "flagged_at", "checked_at"], batch_size=500
    )
    return _act(newly_flagged, config, now)


def _act(flagged, config: DetectorSettings, now: datetime) -> dict[str, int]:
    """One task per newly flagged ownership (keyed by the spell), or an enrollment in the sequence."""
    if not flagged:
        return {"tasks": 0, "enrolled": 0}
    sequence = config.not_consuming_sequence
    if sequence is not None and sequence.active:
        from nurturing.services import enroll

        result = enroll(sequence=sequence, contact_ids=sorted({o.contact_id for o, _row in flagged}), now=now)
        return {"tasks": 0, "enrolled": len(result.enrolled)}
    tasks = [
        Task(
            title=_("%(contact)s does not use %(product)s: check in")
            % {"contact": ownership.contact, "product": ownership.product.name},
            contact_id=ownership.contact_id,
            owner_id=ownership.contact.owner_id,
            kind=Task.Kind.CALL,
            source=Task.Source.DETECTOR,
            priority=Task.Priority.NORMAL,
            due_at=now + timedelta(days=3),
            dedupe_key=f"consumption:{ownership.pk}:{row.flagged_at.date().isoformat()}",
        )
        for ownership, row in flagged
    ]
    Task.objects.bulk_create(tasks, ignore_conflicts=True)
    webhook_events.tasks_created(tasks)
    return {"tasks": len(tasks), "enrolled": 0}
