"""Read-side queries of the R/U/C detector: signal lists with their joins built in, the detector's
precision (how many decided signals sales accepted), a signal's evidence events, and the contacts the
periodic sweep looks at."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from customers.models import DetectorSettings, Signal
from funnel.models import Contact, Stage
from offers.models import Ownership, ProductTopic
from scoring import decay
from scoring.models import ContactTopic, Event, ScoringSettings

CONTACT_SIGNALS_LIMIT = 10
CUSTOMER_STAGE = "customer"  # as customers.services: this stage and the later ones are customers


def signal_queryset() -> QuerySet[Signal]:
    """Signals with everything a list row shows joined in (contact, company, product, owner, who
    decided), newest first."""
    return Signal.objects.select_related("contact", "company", "product", "owner", "decided_by").order_by(
        "-created_at", "-id"
    )


def signal_list(
    *,
    status: str = "",
    kind: str = "",
    owner_id: int | None = None,
    product_id: int | None = None,
    contact_id: int | None = None,
    open_first: bool = False,
) -> QuerySet[Signal]:
    """Signals matching the filters (an empty filter matches all), newest first; ``open_first`` puts
    the open ones before the decided ones (for a list of every status)."""
    signals = signal_queryset()
    if status:
        signals = signals.filter(status=status)
    if kind:
        signals = signals.filter(kind=kind)
    if owner_id is not None:
        signals = signals.filter(owner_id=owner_id)
    if product_id is not None:
        signals = signals.filter(product_id=product_id)
    if contact_id is not None:
        signals = signals.filter(contact_id=contact_id)
    if open_first and not status:
        signals = signals.order_by(_open_first(), "-created_at", "-id")
    return signals


def contact_signals(*, contact_id: int, limit: int = CONTACT_SIGNALS_LIMIT) -> list[Signal]:
    """The contact's open signals, then its most recent decided ones (at most ``limit`` in all)."""
    return list(
        signal_queryset().filter(contact_id=contact_id).order_by(_open_first(), "-created_at", "-id")[:limit]
    )


def _open_first() -> Case:
    return Case(When(status=Signal.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())


@dataclass
class Precision:
    """Decided signals and the share sales accepted; ``precision`` is None while none is decided."""

    accepted: int = 0
    dismissed: int = 0
    open: int = 0

    @property
    def decided(self) -> int:
        return self.accepted + self.dismissed

    @property
    def precision(self) -> float | None:
        return self.accepted / self.decided if self.decided else None

    @property
    def percent(self) -> int | None:
        return None if self.precision is None else round(self.precision * 100)


@dataclass
class DetectorPrecision(Precision):
    # Per kind, every kind present (zeros where none was raised), in the order of Signal.Kind.
    by_kind: dict[str, Precision] = field(default_factory=dict)

    def kinds(self) -> list[tuple[str, str, Precision]]:
        """(kind, label, figures) for templates."""
        return [(kind, label, self.by_kind[kind]) for kind, label in Signal.Kind.choices]


def signal_precision(*, owner_id: int | None = None) -> DetectorPrecision:
    """The detector's precision — accepted / (accepted + dismissed) — overall and per kind, with the
    open signals counted too: one grouped aggregate query."""
    signals = Signal.objects.all() if owner_id is None else Signal.objects.filter(owner_id=owner_id)
    rows = (
        signals.order_by()
        .values("kind")
        .annotate(
            accepted=Count("id", filter=Q(status=Signal.Status.ACCEPTED)),
            dismissed=Count("id", filter=Q(status=Signal.Status.DISMISSED)),
            open=Count("id", filter=Q(status=Signal.Status.OPEN)),
        )
    )
    result = DetectorPrecision(by_kind={kind: Precision() for kind in Signal.Kind.values})
    for row in rows:
        figures = Precision(accepted=row["accepted"], dismissed=row["dismissed"], open=row["open"])
        result.by_kind[row["kind"]] = figures
        result.accepted += figures.accepted
        result.dismissed += figures.dismissed
        result.open += figures.open
    return result


def signal_evidence(*, signal: Signal) -> list[Event]:
    """The events that caused the signal (``event_ids``), newest first, with their type: one query.
    Only the signal's contact's events (an id list is data; it never reaches another contact)."""
    ids = [i for i in signal.event_ids if isinstance(i, int) and not isinstance(i, bool)]
    if not ids:
        return []
    return list(
        Event.objects.filter(pk__in=ids, contact_id=signal.contact_id)
        .select_related("type")
        .only("id", "topic", "occurred_at", "type__key", "type__name")
        .order_by("-occurred_at", "-id")
    )


# --- The periodic sweep ----------------------------------------------------------------------------


def sweep_contact_ids(*, after_id: int = 0, limit: int, now: datetime | None = None) -> list[int]:
    """The next ``limit`` contact ids above ``after_id`` (ascending) that the detector could raise a
    signal for now: interest above the threshold in a topic of an active product, and a customer (at
    stage customer or later, or of a company that is one). One query; keyset pagination over ids, so
    each batch costs the same however far the sweep has come."""
    now = now or timezone.now()
    topics = ProductTopic.objects.filter(product__active=True).values("topic")
    position = Stage.objects.filter(key=CUSTOMER_STAGE).values_list("position", flat=True).first()
    if position is None:
        return []
    config = DetectorSettings.load()
    min_acc = config.interest_threshold * decay.growth(now, ScoringSettings.load().half_life_days)
    customer_companies = Contact.objects.filter(
        stage__position__gte=position, company_id__isnull=False
    ).values("company_id")
    owning_companies = Ownership.objects.filter(company_id__isnull=False).values("company_id")
    return list(
        ContactTopic.objects.filter(contact_id__gt=after_id, topic__in=topics, acc__gte=min_acc)
        .filter(
            Q(contact__stage__position__gte=position)
            | Q(contact__company_id__in=customer_companies)
            | Q(contact__company_id__in=owning_companies)
        )
        .order_by("contact_id")
        .values_list("contact_id", flat=True)
        .distinct()[:limit]
    )
