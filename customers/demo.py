"""Demo signals for ``manage.py load_demo``: after the offers demo (products with topics, customers who
own some of them), a few demo customers download material on a topic of a product they do not own —
stored and applied as any event is, so the R/U/C detector notices them on its own — then a sweep of
the detector over every demo contact, and a few of the signals decided as a sales rep would (a call
task, a dismissal with its reason), so that the precision and "My day" have something to show.

Idempotent: the demo downloads have fixed event ids (a second run's are duplicates), the detector
raises at most one open signal per contact and product and none for a pair decided lately, and the
demo decides signals only while none is decided yet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from customers import selectors
from customers.models import Signal
from customers.services import CUSTOMER_STAGE, signal_accept, signal_dismiss, signals_detect
from customers.tasks import SWEEP_BATCH
from funnel.models import Contact, Stage
from offers.models import Ownership, Product
from scoring.ingest import events_ingest
from scoring.services import events_apply_pending

# How many demo customers show fresh interest, and how: downloads over the last days.
INTERESTED_CUSTOMERS = 8
DOWNLOADS = 3

# Of the open signals, by id: every ACCEPT_EVERY-th is accepted with a call task, every DISMISS_EVERY-th
# (of the rest) dismissed; the others stay open for the signals page.
ACCEPT_EVERY = 3
DISMISS_EVERY = 4
DISMISS_REASONS = [
    "Bought a competitor's system last quarter.",
    "Student project, no budget.",
    "Only reading up; no project this year.",
]


@dataclass
class DemoSignalsResult:
    events_created: int = 0
    raised: int = 0
    accepted: int = 0
    dismissed: int = 0


def load_demo_signals() -> DemoSignalsResult:
    before = Signal.objects.count()
    result = DemoSignalsResult(events_created=_fresh_interest())
    after_id = 0
    while True:
        ids = selectors.sweep_contact_ids(after_id=after_id, limit=SWEEP_BATCH)
        if ids:
            signals_detect(contact_ids=ids)
            after_id = ids[-1]
        if len(ids) < SWEEP_BATCH:
            break
    result.raised = Signal.objects.count() - before
    if not Signal.objects.exclude(status=Signal.Status.OPEN).exists():
        _decide_some(result)
    return result


def _decide_some(result: DemoSignalsResult) -> None:
    signals = Signal.objects.filter(status=Signal.Status.OPEN, owner__isnull=False).select_related("owner")
    for n, signal in enumerate(signals.order_by("id"), start=1):
        if n % ACCEPT_EVERY == 0:
            signal_accept(signal=signal, by=signal.owner, action="task")
            result.accepted += 1
        elif n % DISMISS_EVERY == 0:
            reason = DISMISS_REASONS[(n // DISMISS_EVERY) % len(DISMISS_REASONS)]
            signal_dismiss(signal=signal, by=signal.owner, reason=reason)
            result.dismissed += 1


def _fresh_interest() -> int:
    """Downloads by a few demo customers (those owning a product, by email) on a topic of an active
    product they do not own; returns how many events were new. Applying them runs the detector."""
    position = Stage.objects.filter(key=CUSTOMER_STAGE).values_list("position", flat=True).first()
    if position is None:
        return 0
    products = [
        (p.pk, sorted(t.topic for t in p.topics.all()))
        for p in Product.objects.filter(active=True).prefetch_related("topics").order_by("name", "id")
    ]
    customers = list(
        Contact.objects.filter(stage__position__gte=position, ownerships__isnull=False)
        .exclude(email="")
        .distinct()
        .order_by("email")[:INTERESTED_CUSTOMERS]
    )
    now = timezone.now()
    payload = []
    for contact in customers:
        owned = set(
            Ownership.objects.filter(
                Q(contact=contact) | Q(company_id=contact.company_id, company_id__isnull=False)
            ).values_list("product_id", flat=True)
        )
        topic = next((topics[0] for pk, topics in products if pk not in owned and topics), None)
        if topic is None:
            continue
        key = hashlib.sha256(contact.email.lower().encode()).hexdigest()[:16]
        payload += [
            {
                "id": f"demo-ruc-{key}-{n}",
                "type": "download",
                "contact": contact.pk,
                "topic": topic,
                "occurred_at": (now - timedelta(days=n, hours=2)).isoformat(),
            }
            for n in range(DOWNLOADS)
        ]
    if not payload:
        return 0
    accepted = events_ingest(payload=payload, now=now).accepted
    while events_apply_pending():
        pass
    return accepted


def load_demo_references() -> tuple[int, int]:
    """References for the demo's reference-stage contacts, birthdays for a few customers (two of them
    within the coming week, so My day shows delight tasks). Idempotent. Returns (references, tasks)."""
    from datetime import date, timedelta

    from django.utils import timezone

    from customers.models import Occasion, Reference
    from customers.references import delight_tasks_create
    from funnel.models import Contact

    today = timezone.localdate()
    created = 0
    kinds = [
        Reference.Kind.TESTIMONIAL,
        Reference.Kind.REFERRAL,
        Reference.Kind.CASE_STUDY,
        Reference.Kind.REVIEW,
    ]
    for n, contact in enumerate(Contact.objects.filter(stage__key="reference").order_by("pk")):
        if contact.references.exists():
            continue
        # Created directly: these contacts are at the reference stage already (no activity to record).
        Reference.objects.create(
            contact=contact,
            company_id=contact.company_id,
            kind=kinds[n % len(kinds)],
            date=today - timedelta(days=30 + 45 * n),
            may_publish=n % 2 == 0,
        )
        created += 1
    for n, contact in enumerate(
        Contact.objects.filter(stage__key__in=["customer", "consumption"]).order_by("pk")[:6]
    ):
        when = today + timedelta(days=2 + 20 * n)
        Occasion.objects.get_or_create(
            contact=contact,
            kind=Occasion.Kind.BIRTHDAY,
            date=date(1970 + n * 3, when.month, min(when.day, 28)),
        )
    return created, delight_tasks_create()
