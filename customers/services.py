"""The R/U/C detector and what sales does with its signals.

``signals_detect`` runs after events are scored (customers.receivers): for the contacts those events
were about, it looks at their decayed topic interest (``scoring.ContactTopic``), keeps the existing
customers — contacts at stage customer or later, and every contact of a company that is a customer —
and maps the topics to products (``offers.ProductTopic``):

* a product neither the contact nor its company owns → **cross**-sell, or **up**-sell when they own
  another product of the same family;
* a repeatable product last bought longer ago than the configured days → **repeat**.

At most one open signal per contact and product (a partial unique index decides, also between two
workers); a signal decided (accepted or dismissed) in the last ``QUIET_DAYS`` is not raised again, so
a dismissal is not answered by the same alert the next day. Each new signal notifies its owner once.
The work is set-based: a handful of queries for any number of contacts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import roles
from customers.models import DetectorSettings, Signal
from funnel.models import Contact, Stage
from notifications.models import Notification
from notifications.services import notifications_create
from offers.models import Ownership, Product, ProductTopic
from sales.models import Task
from scoring import decay
from scoring.models import ContactTopic, Event, ScoringSettings
from webhooks import events as webhook_events

QUIET_DAYS = 90
EVIDENCE_EVENTS = 10
EVIDENCE_WINDOW = timedelta(days=365)
CUSTOMER_STAGE = "customer"


def signals_detect(*, contact_ids, now: datetime | None = None) -> list[Signal]:
    """Raise the signals these contacts' current interest calls for; returns the new ones."""
    now = now or timezone.now()
    contact_ids = sorted(set(contact_ids))
    topic_products: dict[str, set[int]] = defaultdict(set)
    for product_id, topic in ProductTopic.objects.filter(product__active=True).values_list(
        "product_id", "topic"
    ):
        topic_products[topic].add(product_id)
    if not contact_ids or not topic_products:
        return []
    config = DetectorSettings.load()
    half_life = ScoringSettings.load().half_life_days
    min_acc = config.interest_threshold * decay.growth(now, half_life)
    interest = list(
        ContactTopic.objects.filter(
            contact_id__in=contact_ids, topic__in=list(topic_products), acc__gte=min_acc
        ).values_list("contact_id", "topic", "acc")
    )
    if not interest:
        return []
    customers = _existing_customers({c for c, _t, _a in interest})
    if not customers:
        return []
    owned = _owned(customers)
    wanted = set().union(*topic_products.values(), *(mine.keys() for mine in owned.values()))
    products = {
        p.pk: p for p in Product.objects.filter(pk__in=wanted).only("id", "name", "family", "repeatable")
    }
    quiet = set(
        Signal.objects.filter(contact_id__in=list(customers))
        .filter(Q(status=Signal.Status.OPEN) | Q(decided_at__gte=now - timedelta(days=QUIET_DAYS)))
        .values_list("contact_id", "product_id")
    )
    repeat_before = now - timedelta(days=config.repeat_after_days)
    best: dict[tuple[int, int], tuple[float, str]] = {}  # (contact, product) → (weight, topic)
    for contact_id, topic, acc in interest:
        if contact_id not in customers:
            continue
        for product_id in topic_products[topic]:
            key = (contact_id, product_id)
            if key not in quiet and (key not in best or acc > best[key][0]):
                best[key] = (acc, topic)
    candidates = []
    for (contact_id, product_id), (acc, topic) in best.items():
        product = products[product_id]
        mine = owned.get(contact_id, {})
        if product_id in mine:
            if not (product.repeatable and mine[product_id] < repeat_before):
                continue
            kind = Signal.Kind.REPEAT
        else:
            families = {products[p].family for p in mine if p in products and products[p].family}
            kind = Signal.Kind.UP if product.family and product.family in families else Signal.Kind.CROSS
        candidates.append((contact_id, product_id, kind, topic, round(decay.value(acc, now, half_life), 2)))
    if not candidates:
        return []
    return _raise(candidates, customers, topic_products, now)


def _existing_customers(contact_ids: set[int]) -> dict[int, Contact]:
    """The contacts among these that are customers, or belong to a customer company."""
    position = Stage.objects.filter(key=CUSTOMER_STAGE).values_list("position", flat=True).first()
    if position is None:
        return {}
    contacts = {
        c.pk: c
        for c in Contact.objects.filter(pk__in=contact_ids).only(
            "id", "company_id", "owner_id", "stage_id", "first_name", "last_name", "email"
        )
    }
    positions = dict(Stage.objects.values_list("id", "position"))
    company_ids = {c.company_id for c in contacts.values() if c.company_id}
    customer_companies = set(
        Contact.objects.filter(company_id__in=company_ids, stage__position__gte=position)
        .values_list("company_id", flat=True)
        .distinct()
    ) | set(
        Ownership.objects.filter(company_id__in=company_ids).values_list("company_id", flat=True).distinct()
    )
    return {
        pk: c
        for pk, c in contacts.items()
        if positions[c.stage_id] >= position or (c.company_id and c.company_id in customer_companies)
    }


def _owned(customers: dict[int, Contact]) -> dict[int, dict[int, datetime]]:
    """contact → {product: last purchase}, counting what the contact's company owns as theirs."""
    company_ids = {c.company_id for c in customers.values() if c.company_id}
    by_contact: dict[int, dict[int, datetime]] = defaultdict(dict)
    by_company: dict[int, dict[int, datetime]] = defaultdict(dict)
    rows = Ownership.objects.filter(
        Q(contact_id__in=list(customers)) | Q(company_id__in=company_ids)
    ).values_list("contact_id", "company_id", "product_id", "last_purchase_at")
    for contact_id, company_id, product_id, last in rows:
        for mine in ([by_contact[contact_id]] if contact_id in customers else []) + (
            [by_company[company_id]] if company_id else []
        ):
            if product_id not in mine or mine[product_id] < last:
                mine[product_id] = last
    result = {}
    for contact_id, contact in customers.items():
        mine = dict(by_company.get(contact.company_id, {})) if contact.company_id else {}
        for product_id, last in by_contact.get(contact_id, {}).items():
            if product_id not in mine or mine[product_id] < last:
                mine[product_id] = last
        result[contact_id] = mine
    return result


def _raise(candidates, customers: dict[int, Contact], topic_products, now: datetime) -> list[Signal]:
    from nurturing.services import contacts_assign_owners

    product_topics: dict[int, set[str]] = defaultdict(set)
    for topic, product_ids in topic_products.items():
        for product_id in product_ids:
            product_topics[product_id].add(topic)
    evidence = _evidence({c for c, *_ in candidates}, set(topic_products), now)
    with transaction.atomic():
        ids = {c for c, *_ in candidates}
        owners = {c: customers[c].owner_id for c in ids}
        owners.update(contacts_assign_owners(contact_ids=[c for c in ids if owners[c] is None]))
        Signal.objects.bulk_create(
            [
                Signal(
                    contact_id=contact_id,
                    company_id=customers[contact_id].company_id,
                    product_id=product_id,
                    kind=kind,
                    topic=topic,
                    weight=acc,
                    event_ids=[
                        event_id
                        for event_id, topic_ in evidence.get(contact_id, [])
                        if topic_ in product_topics[product_id]
                    ][:EVIDENCE_EVENTS],
                    owner_id=owners[contact_id],
                    created_at=now,
                )
                for contact_id, product_id, kind, topic, acc in candidates
            ],
            ignore_conflicts=True,  # an open one raised meanwhile by another worker wins
        )
        new = list(
            Signal.objects.filter(
                status=Signal.Status.OPEN, created_at=now, contact_id__in=list(owners)
            ).select_related("product", "contact")
        )
        webhook_events.signals_created(new)
        notifications_create(
            notifications=[
                Notification(
                    user_id=signal.owner_id,
                    kind="signal",
                    title=_("%(contact)s is interested in %(product)s")
                    % {"contact": signal.contact, "product": signal.product.name},
                    body=_("%(kind)s signal: topic “%(topic)s”.")
                    % {"kind": signal.get_kind_display(), "topic": signal.topic},
                    contact_id=signal.contact_id,
                    dedupe_key=f"signal:{signal.pk}",
                )
                for signal in new
                if signal.owner_id
            ]
        )
    return new


def _evidence(contact_ids: set[int], topics: set[str], now: datetime) -> dict[int, list[tuple[int, str]]]:
    """Per contact, its latest events on any product topic (id, topic), newest first."""
    result: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = (
        Event.objects.filter(
            contact_id__in=list(contact_ids), topic__in=list(topics), occurred_at__gte=now - EVIDENCE_WINDOW
        )
        .order_by("contact_id", "-occurred_at", "-id")
        .values_list("contact_id", "id", "topic")
    )
    for contact_id, event_id, topic in rows:
        if len(result[contact_id]) < EVIDENCE_EVENTS * 5:
            result[contact_id].append((event_id, topic))
    return result


# --- Deciding -------------------------------------------------------------------------------------


def _may_decide(signal: Signal, by) -> None:
    if signal.owner_id not in (None, by.pk) and not roles.has_any(by, roles.MANAGE_USERS):
        raise PermissionDenied(_("Only the signal's owner or an admin may decide it."))


@transaction.atomic
def signal_accept(*, signal: Signal, by, action: str, sequence=None, title: str = "") -> Signal:
    """Accept a signal: ``action`` "task" creates a call task for the owner, "offer" a draft offer for
    the product, "sequence" enrolls the contact in ``sequence``."""
    signal = Signal.objects.select_for_update().select_related("product", "contact").get(pk=signal.pk)
    _may_decide(signal, by)
    if signal.status != Signal.Status.OPEN:
        raise ValidationError(_("This signal has been decided already."))
    now = timezone.now()
    if action == "task":
        signal.task, _created = Task.objects.get_or_create(
            dedupe_key=f"signal:{signal.pk}",
            defaults={
                "title": title.strip()
                or _("Talk to %(contact)s about %(product)s")
                % {"contact": signal.contact, "product": signal.product.name},
                "contact_id": signal.contact_id,
                "owner_id": signal.owner_id or by.pk,
                "kind": Task.Kind.CALL,
                "source": Task.Source.DETECTOR,
                "priority": Task.Priority.HIGH,
                "due_at": now + timedelta(days=2),
            },
        )
        if _created:
            webhook_events.tasks_created([signal.task])
    elif action == "offer":
        from offers.services import offer_create

        product = signal.product
        signal.offer = offer_create(
            contact=signal.contact,
            title=title.strip() or product.name,
            items=[(product, 1, product.price or 0)],
            owner=signal.owner or by,
            currency="EUR",
            by=by,
        )
    elif action == "sequence":
        from nurturing.services import enroll

        if sequence is None:
            raise ValidationError({"sequence": [_("Choose the sequence.")]})
        result = enroll(sequence=sequence, contact_ids=[signal.contact_id], by=by, manual=True)
        if not result.enrolled:
            raise ValidationError(
                {"sequence": [_("The contact cannot enter this sequence now (already in it, or not again).")]}
            )
        signal.enrollment = sequence.enrollments.filter(contact_id=signal.contact_id, state="active").first()
    else:
        raise ValidationError({"action": [_("Choose what to do: a task, an offer or a sequence.")]})
    signal.status = Signal.Status.ACCEPTED
    signal.decided_at = now
    signal.decided_by = by
    signal.save(update_fields=["status", "decided_at", "decided_by", "task", "offer", "enrollment"])
    return signal


@transaction.atomic
def signal_dismiss(*, signal: Signal, by, reason: str) -> Signal:
    signal = Signal.objects.select_for_update().get(pk=signal.pk)
    _may_decide(signal, by)
    if signal.status != Signal.Status.OPEN:
        raise ValidationError(_("This signal has been decided already."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why: it teaches the detector's precision.")]})
    if len(reason) > 300:
        raise ValidationError({"reason": [_("At most 300 characters.")]})
    signal.status = Signal.Status.DISMISSED
    signal.dismiss_reason = reason
    signal.decided_at = timezone.now()
    signal.decided_by = by
    signal.save(update_fields=["status", "dismiss_reason", "decided_at", "decided_by"])
    return signal


def detector_settings_update(**fields) -> DetectorSettings:
    row = DetectorSettings.load()
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    return row
