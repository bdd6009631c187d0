"""Read-side queries of offers, with their joins built in so that lists never run N+1.

An offer's value is the sum of its lines, computed in SQL (a correlated subquery per listed row, so a
page of 50 offers costs one query whatever the number of lines) and read through ``Offer.value``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from offers.models import DEFAULT_CURRENCY, Offer, OfferItem, Ownership, Product

MONEY = DecimalField(max_digits=24, decimal_places=2)
CENT = Decimal("0.01")


def _amount(prefix: str = ""):
    return ExpressionWrapper(F(f"{prefix}quantity") * F(f"{prefix}unit_price"), output_field=MONEY)


def offer_value() -> Coalesce:
    """The offer's value (sum of quantity × unit price of its lines) as an SQL expression."""
    totals = (
        OfferItem.objects.filter(offer=OuterRef("pk"))
        .order_by()
        .values("offer")
        .annotate(total=Sum(_amount()))
        .values("total")
    )
    return Coalesce(Subquery(totals, output_field=MONEY), Value(Decimal("0")), output_field=MONEY)


# --- Offers ---------------------------------------------------------------------------------------


def offer_queryset() -> QuerySet[Offer]:
    """Offers with contact, company and owner joined and ``total`` (the value) annotated."""
    return Offer.objects.select_related("contact", "company", "owner").annotate(total=offer_value())


def offer_detail_queryset() -> QuerySet[Offer]:
    """As :func:`offer_queryset`, plus the lines with their products."""
    items = OfferItem.objects.select_related("product").order_by("id")
    return offer_queryset().prefetch_related(Prefetch("items", queryset=items))


def offer_list(
    *,
    status: str = "",
    owner_id: int | None = None,
    contact_id: int | None = None,
    company_id: int | None = None,
    product_id: int | None = None,
    search: str = "",
    with_items: bool = False,
) -> QuerySet[Offer]:
    """Offers, newest first, filtered. ``product_id``: offers with a line of that product."""
    offers = offer_detail_queryset() if with_items else offer_queryset()
    if status:
        offers = offers.filter(status=status)
    if owner_id is not None:
        offers = offers.filter(owner_id=owner_id)
    if contact_id is not None:
        offers = offers.filter(contact_id=contact_id)
    if company_id is not None:
        offers = offers.filter(company_id=company_id)
    if product_id is not None:
        # EXISTS, not a join: a join would also restrict the value to that product's line.
        offers = offers.filter(Exists(OfferItem.objects.filter(offer=OuterRef("pk"), product_id=product_id)))
    if search.strip():
        offers = offers.filter(title__icontains=search.strip())
    return offers.order_by("-created_at", "-id")


def offer_stats(
    *,
    since: date | datetime | None,
    until: date | datetime | None,
    currency: str = DEFAULT_CURRENCY,
) -> dict:
    """Offers decided in a period: how many were won and lost, the win rate (won / decided, None
    when nothing was decided) and the average order value of the won ones (None without any).

    ``since`` and ``until`` are dates (both days included, in the current time zone) or datetimes
    (``until`` excluded); None leaves that end open. Values in different currencies do not add up:
    ``average_order_value`` and ``revenue`` count the won offers in ``currency`` only, the counts
    and the win rate all of them. One query.
    """
    decided = Offer.objects.filter(status__in=[Offer.Status.WON, Offer.Status.LOST])
    if since is not None:
        decided = decided.filter(decided_at__gte=_start(since))
    if until is not None:
        decided = decided.filter(decided_at__lt=_end(until))
    won = Q(status=Offer.Status.WON)
    in_currency = won & Q(currency=currency)
    figures = decided.aggregate(
        won=Count("pk", filter=won, distinct=True),
        lost=Count("pk", filter=Q(status=Offer.Status.LOST), distinct=True),
        won_in_currency=Count("pk", filter=in_currency, distinct=True),
        revenue=Sum(_amount("items__"), filter=in_currency, output_field=MONEY),
    )
    n_won, n_lost, n_value = figures["won"], figures["lost"], figures["won_in_currency"]
    revenue = Decimal(figures["revenue"] or 0).quantize(CENT)
    return {
        "won": n_won,
        "lost": n_lost,
        "win_rate": n_won / (n_won + n_lost) if n_won + n_lost else None,
        "average_order_value": (revenue / n_value).quantize(CENT) if n_value else None,
        "revenue": revenue,
        "currency": currency,
    }


def _start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(datetime.combine(value, time.min))


def _end(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(datetime.combine(value + timedelta(days=1), time.min))


# --- Products -------------------------------------------------------------------------------------


def product_list(
    *, active: bool | None = None, search: str = "", topic: str = "", family: str = "", with_usage=False
) -> QuerySet[Product]:
    """Products by name with their topics prefetched; ``with_usage`` annotates ``offer_count`` and
    ``owner_count`` (subqueries, not joins: the two would multiply)."""
    products = Product.objects.prefetch_related("topics").order_by("name", "id")
    if active is not None:
        products = products.filter(active=active)
    if search.strip():
        text = search.strip()
        products = products.filter(Q(name__icontains=text) | Q(sku__icontains=text))
    if topic.strip():
        products = products.filter(topics__topic=topic.strip().lower())
    if family.strip():
        products = products.filter(family__iexact=family.strip())
    if with_usage:
        products = products.annotate(
            offer_count=_count(OfferItem.objects.filter(product=OuterRef("pk")), "offer"),
            owner_count=_count(Ownership.objects.filter(product=OuterRef("pk")), "contact"),
        )
    return products


def _count(queryset, column: str) -> Coalesce:
    counted = queryset.order_by().values("product").annotate(n=Count(column, distinct=True)).values("n")
    return Coalesce(Subquery(counted), Value(0))


def product_choices(*, include_ids: set[int] | None = None) -> QuerySet[Product]:
    """Products a new offer line may have: the active ones, plus ``include_ids`` (lines an offer has)."""
    allowed = Q(active=True)
    if include_ids:
        allowed |= Q(pk__in=include_ids)
    return Product.objects.filter(allowed).order_by("name", "id")


# --- Ownership ------------------------------------------------------------------------------------


def ownership_list(
    *, contact_id: int | None = None, company_id: int | None = None, product_id: int | None = None
) -> QuerySet[Ownership]:
    """Ownership records, the latest purchase first, with product, contact and company joined."""
    ownerships = Ownership.objects.select_related("product", "contact", "company")
    if contact_id is not None:
        ownerships = ownerships.filter(contact_id=contact_id)
    if company_id is not None:
        ownerships = ownerships.filter(company_id=company_id)
    if product_id is not None:
        ownerships = ownerships.filter(product_id=product_id)
    return ownerships.order_by("-last_purchase_at", "-id")


def contact_ownerships(*, contact_id: int) -> QuerySet[Ownership]:
    return ownership_list(contact_id=contact_id)


def company_ownerships(*, company_id: int) -> QuerySet[Ownership]:
    """What a company owns: every record of its contacts' purchases."""
    return ownership_list(company_id=company_id)


def owned_product_ids(*, contact_id: int) -> set[int]:
    return set(Ownership.objects.filter(contact_id=contact_id).values_list("product_id", flat=True))
