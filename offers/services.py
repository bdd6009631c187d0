"""Write-side logic of offers: the product catalogue with its topics, offers through their life
(draft → open → won or lost) and ownership — which contact and company own which product.

Views, the API and the demo call these; none of them writes the models directly. Validation errors
are ``django.core.exceptions.ValidationError`` with field names (``{"items": [...]}``), so that forms
and serializers show them next to the field.

Stage changes that follow from offers go through ``funnel.services.contact_move_stage`` and only ever
forward: sending an offer makes a suspect or lead a prospect, winning one makes anyone before
customer a customer. A contact further down the funnel is never moved back by an offer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from funnel.models import Contact, Stage
from funnel.services import contact_move_stage
from offers.models import (
    DEFAULT_CURRENCY,
    Offer,
    OfferItem,
    Ownership,
    Product,
    ProductTopic,
)
from offers.signals import offer_won
from scoring.topics import topics_normalise

PRODUCT_FIELDS = ("name", "sku", "description", "price", "family", "repeatable", "active")
OFFER_FIELDS = ("title", "owner", "currency", "company")
MAX_TOPICS = 50
MAX_ITEMS = 100
MAX_QUANTITY = 1_000_000
# Ten digits before the decimal point, two after: OfferItem.unit_price (max_digits=12).
MAX_UNIT_PRICE = Decimal("9999999999.99")
LOST_REASON_MAX_LENGTH = Offer._meta.get_field("lost_reason").max_length
# A decision dated a little ahead of the server's clock (another machine's) is still "now".
CLOCK_SKEW = timedelta(minutes=5)

SENT_REASON = "offer sent"
WON_REASON = "offer won"
SENT_STAGE = "prospect"
WON_STAGE = "customer"
EDITABLE = (Offer.Status.DRAFT, Offer.Status.OPEN)

_CONTACT_COMPANY = object()  # offer_create's default company: the contact's

# One line of an offer as the callers give it: (product, quantity, unit price or None for the list price).
Line = tuple[Product, int, Decimal | str | int | None]


# --- Products -------------------------------------------------------------------------------------


def normalise_topics(topics: Iterable[str]) -> list[str]:
    """A product's topics, normalised as everywhere (scoring.topics), at most MAX_TOPICS."""
    return topics_normalise(topics, most=MAX_TOPICS)


@transaction.atomic
def product_save(*, product: Product | None = None, topics: Iterable[str] | None = None, **fields) -> Product:
    """Create (``product`` None) or change a product; ``topics`` replaces its topics (None: unchanged
    on a change, none on a create). Names are unique regardless of case."""
    unknown = set(fields) - set(PRODUCT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown product fields: {sorted(unknown)}")
    product = product or Product()
    for name, value in fields.items():
        if name in ("name", "sku", "family") and isinstance(value, str):
            value = value.strip()
        setattr(product, name, value)
    errors: dict[str, list[str]] = {}
    try:
        product.full_clean()
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if product.name and "name" not in errors:
        clash = Product.objects.filter(name__iexact=product.name).exclude(pk=product.pk)
        if clash.exists():
            errors["name"] = [_("A product with this name already exists.")]
    normalised: list[str] | None = None
    if topics is not None:
        try:
            normalised = normalise_topics(topics)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    product.save()
    if normalised is not None:
        _set_topics(product, normalised)
    return product


def _set_topics(product: Product, topics: list[str]) -> None:
    product.topics.exclude(topic__in=topics).delete()
    have = set(product.topics.values_list("topic", flat=True))
    ProductTopic.objects.bulk_create(
        [ProductTopic(product=product, topic=topic) for topic in topics if topic not in have],
        ignore_conflicts=True,
    )


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Delete a product nobody was offered or owns; otherwise refuse (deactivating keeps the history)."""
    offers = OfferItem.objects.filter(product=product).values("offer").distinct().count()
    owners = Ownership.objects.filter(product=product).count()
    if offers or owners:
        raise ValidationError(_product_in_use(product, offers, owners))
    try:
        product.delete()
    except ProtectedError:  # an offer or ownership came in after the count
        raise ValidationError(_product_in_use(product, 1, 0)) from None


def _product_in_use(product: Product, offers: int, owners: int) -> str:
    return _(
        "“%(name)s” cannot be deleted: %(offers)s offer(s) and %(owners)s ownership record(s) use it. "
        "Mark it inactive instead; it then no longer appears in new offers."
    ) % {"name": product.name, "offers": offers, "owners": owners}


# --- Offers ---------------------------------------------------------------------------------------


@transaction.atomic
def offer_create(
    *,
    contact: Contact,
    title: str,
    items: Sequence[Line],
    owner=None,
    currency: str = DEFAULT_CURRENCY,
    by=None,
    company=_CONTACT_COMPANY,
) -> Offer:
    """Create a draft offer for ``contact`` with at least one line. The company defaults to the
    contact's; a unit price left as None is the product's list price."""
    errors: dict[str, list[str]] = {}
    if contact is None:
        errors["contact"] = [_("Choose the contact the offer is for.")]
    offer = Offer(
        title=(title or "").strip(),
        contact=contact,
        company_id=(contact.company_id if contact else None) if company is _CONTACT_COMPANY else _pk(company),
        owner=owner,
        currency=_normalise_currency(currency),
        status=Offer.Status.DRAFT,
    )
    lines = _collect(errors, offer, items)
    if errors:
        raise ValidationError(errors)
    offer.save()
    OfferItem.objects.bulk_create(
        [OfferItem(offer=offer, product=p, quantity=q, unit_price=price) for p, q, price in lines]
    )
    return offer


@transaction.atomic
def offer_update(*, offer: Offer, by=None, items: Sequence[Line] | None = None, **fields) -> Offer:
    """Change a draft or open offer: ``title``, ``owner``, ``currency``, ``company``; ``items``
    replaces all lines. A decided offer is a record and stays as it is."""
    unknown = set(fields) - set(OFFER_FIELDS)
    if unknown:
        raise TypeError(f"Unknown offer fields: {sorted(unknown)}")
    locked = _lock(offer)
    if locked.status not in EDITABLE:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    _("This offer is decided (%(status)s); it can no longer be changed.")
                    % {"status": locked.get_status_display()}
                ]
            }
        )
    for name, value in fields.items():
        if name == "title":
            value = (value or "").strip()
        elif name == "currency":
            value = _normalise_currency(value)
        setattr(locked, name, value)
    errors: dict[str, list[str]] = {}
    lines = _collect(errors, locked, items) if items is not None else None
    if errors:
        raise ValidationError(errors)
    locked.save()
    if lines is not None:
        locked.items.all().delete()
        OfferItem.objects.bulk_create(
            [OfferItem(offer=locked, product=p, quantity=q, unit_price=price) for p, q, price in lines]
        )
    return _sync(offer, locked)


@transaction.atomic
def offer_delete(*, offer: Offer, by=None) -> None:
    """Delete a draft. Sent and decided offers are records (lose an open one instead)."""
    locked = _lock(offer)
    if locked.status != Offer.Status.DRAFT:
        raise ValidationError(
            {NON_FIELD_ERRORS: [_("Only drafts can be deleted; this offer was sent. Mark it lost instead.")]}
        )
    locked.delete()


@transaction.atomic
def offer_send(*, offer: Offer, by=None) -> Offer:
    """Mark a draft as sent (open). A suspect or lead becomes a prospect; a contact already at prospect
    or later stays where it is. Sending an open offer again changes nothing."""
    locked = _lock(offer)
    if locked.status == Offer.Status.OPEN:
        return _sync(offer, locked)
    if locked.status != Offer.Status.DRAFT:
        raise ValidationError({NON_FIELD_ERRORS: [_decided(locked)]})
    locked.status = Offer.Status.OPEN
    locked.sent_at = timezone.now()
    locked.save(update_fields=["status", "sent_at", "updated_at"])
    _move_forward(contact_id=locked.contact_id, stage_key=SENT_STAGE, by=by, reason=SENT_REASON)
    return _sync(offer, locked)


@transaction.atomic
def offer_win(*, offer: Offer, by=None, at: datetime | None = None) -> Offer:
    """Record the order: the offer is won (``at``, default now), the contact becomes a customer if it
    was before that stage, and it (with the offer's company) owns each product of the offer from then
    on — a product it owned already counts as a repeat purchase. Winning a won offer changes nothing;
    a lost offer cannot be won."""
    now = timezone.now()
    at = at or now
    if at > now + CLOCK_SKEW:
        raise ValidationError({"decided_at": [_("The order cannot be dated in the future.")]})
    locked = _lock(offer)
    if locked.status == Offer.Status.WON:
        return _sync(offer, locked)
    if locked.status == Offer.Status.LOST:
        raise ValidationError({NON_FIELD_ERRORS: [_decided(locked)]})
    locked.status = Offer.Status.WON
    locked.decided_at = at
    locked.lost_reason = ""
    locked.save(update_fields=["status", "decided_at", "lost_reason", "updated_at"])
    product_ids = list(locked.items.values_list("product_id", flat=True))
    if locked.contact_id is not None:
        _move_forward(contact_id=locked.contact_id, stage_key=WON_STAGE, by=by, reason=WON_REASON)
        _own(
            contact_id=locked.contact_id,
            company_id=locked.company_id,
            product_ids=product_ids,
            at=at,
            offer=locked,
        )
    transaction.on_commit(
        partial(
            offer_won.send,
            sender=Offer,
            offer_id=locked.pk,
            contact_id=locked.contact_id,
            company_id=locked.company_id,
            product_ids=product_ids,
        )
    )
    return _sync(offer, locked)


@transaction.atomic
def offer_lose(*, offer: Offer, reason: str, by=None) -> Offer:
    """Record that the customer said no, and why (required). Losing a lost offer changes nothing; a
    won offer cannot be lost."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the offer was lost.")]})
    if len(reason) > LOST_REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": [_("At most %(max)s characters.") % {"max": LOST_REASON_MAX_LENGTH}]}
        )
    locked = _lock(offer)
    if locked.status == Offer.Status.LOST:
        return _sync(offer, locked)
    if locked.status == Offer.Status.WON:
        raise ValidationError({NON_FIELD_ERRORS: [_decided(locked)]})
    locked.status = Offer.Status.LOST
    locked.lost_reason = reason
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "lost_reason", "decided_at", "updated_at"])
    return _sync(offer, locked)


# --- Ownership ------------------------------------------------------------------------------------


@transaction.atomic
def ownership_record(*, contact: Contact, product: Product, since: datetime, by=None) -> Ownership:
    """Record by hand that ``contact`` (and its company) owns ``product`` since ``since`` — a purchase
    made before Trichter, or outside offers. Recording it again keeps the earliest date."""
    if since > timezone.now() + CLOCK_SKEW:
        raise ValidationError({"since": [_("The date cannot be in the future.")]})
    contact = Contact.objects.select_for_update().only("id", "company_id").get(pk=contact.pk)
    _own(contact_id=contact.pk, company_id=contact.company_id, product_ids=[product.pk], at=since, offer=None)
    return Ownership.objects.select_related("product").get(contact_id=contact.pk, product_id=product.pk)


@transaction.atomic
def ownership_delete(*, ownership: Ownership, by=None) -> None:
    ownership.delete()


# --- Helpers --------------------------------------------------------------------------------------


def _lock(offer: Offer) -> Offer:
    """The offer's row, locked: concurrent state changes of one offer are serialised."""
    return Offer.objects.select_for_update().get(pk=offer.pk)


def _sync(offer: Offer, locked: Offer) -> Offer:
    """Copy the stored state onto the caller's instance too, and return it."""
    for field in (
        "title",
        "contact_id",
        "company_id",
        "owner_id",
        "status",
        "currency",
        "lost_reason",
        "sent_at",
        "decided_at",
        "updated_at",
    ):
        setattr(offer, field, getattr(locked, field))
    for cached in ("total", "_prefetched_objects_cache"):
        offer.__dict__.pop(cached, None)
    return offer


def _decided(offer: Offer) -> str:
    if offer.status == Offer.Status.WON:
        return _("This offer was won; it cannot be sent, lost or changed any more.")
    return _("This offer was lost; it cannot be sent, won or changed any more. Create a new offer.")


def _pk(value):
    return value.pk if hasattr(value, "pk") else value


def _normalise_currency(value) -> str:
    return str(value or "").strip().upper()


def _collect(errors: dict, offer: Offer, items: Sequence[Line] | None) -> list[tuple[Product, int, Decimal]]:
    """Validate the offer's fields and its lines into ``errors``; the clean lines."""
    try:
        offer.full_clean()
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if items is None:
        return []
    keep = set(offer.items.values_list("product_id", flat=True)) if offer.pk else set()
    lines, problems = clean_items(items, allowed_inactive=keep)
    if problems:
        errors.setdefault("items", []).extend(problems)
    return lines


def clean_items(
    items: Sequence[Line], *, allowed_inactive: set[int] = frozenset()
) -> tuple[list[tuple[Product, int, Decimal]], list[str]]:
    """Offer lines checked one by one: (the clean lines, messages naming the line number)."""
    if not items:
        return [], [_("Add at least one product.")]
    if len(items) > MAX_ITEMS:
        return [], [_("At most %(max)s lines per offer.") % {"max": MAX_ITEMS}]
    lines: list[tuple[Product, int, Decimal]] = []
    problems: list[str] = []
    seen: set[int] = set()
    for number, line in enumerate(items, start=1):
        product, quantity, unit_price = line
        say = partial(_line_problem, problems, number)
        if not isinstance(product, Product):
            say(_("choose a product."))
            continue
        if product.pk in seen:
            say(
                _("“%(name)s” is on the offer already; change that line's quantity instead.")
                % {"name": product}
            )
            continue
        seen.add(product.pk)
        if not product.active and product.pk not in allowed_inactive:
            say(_("“%(name)s” is no longer offered (inactive).") % {"name": product})
            continue
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            say(_("the quantity must be a whole number from 1 to %(max)s.") % {"max": f"{MAX_QUANTITY:,}"})
            continue
        price = product.price if unit_price is None or unit_price == "" else _decimal(unit_price)
        if price is None:
            say(_("enter a unit price (“%(name)s” has no list price).") % {"name": product})
            continue
        if (
            not price.is_finite()
            or price < 0
            or price > MAX_UNIT_PRICE
            or price != price.quantize(Decimal("0.01"))
        ):
            say(
                _("the unit price must be an amount from 0 to %(max)s with at most two decimals.")
                % {"max": f"{MAX_UNIT_PRICE:,}"}
            )
            continue
        lines.append((product, quantity, price.quantize(Decimal("0.01"))))
    return lines, problems


def _line_problem(problems: list[str], number: int, text: str) -> None:
    problems.append(_("Line %(n)s: %(problem)s") % {"n": number, "problem": text})


def _decimal(value) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return Decimal("NaN")


def _move_forward(*, contact_id: int | None, stage_key: str, by, reason: str) -> None:
    """Move the contact to ``stage_key`` through contact_move_stage if it is in an earlier stage."""
    if contact_id is None:
        return
    stages = {s.pk: s for s in Stage.objects.all()}
    target = next((s for s in stages.values() if s.key == stage_key), None)
    if target is None:
        return
    # Locked before looking at its stage, so that a concurrent move cannot slip in between and be undone.
    contact = Contact.objects.select_for_update().only("id", "stage_id").filter(pk=contact_id).first()
    if contact is None or stages[contact.stage_id].position >= target.position:
        return
    contact_move_stage(contact=contact, stage=target, by=by, reason=reason)


def _own(*, contact_id: int, company_id: int | None, product_ids: list[int], at: datetime, offer) -> None:
    """Set-based upsert of ownership rows: new products are created, owned ones get the purchase
    (``last_purchase_at`` the later, ``since`` the earlier date). The caller holds the contact's lock."""
    if not product_ids:
        return
    existing = {
        o.product_id: o
        for o in Ownership.objects.select_for_update().filter(
            contact_id=contact_id, product_id__in=product_ids
        )
    }
    changed, created = [], []
    for product_id in product_ids:
        ownership = existing.get(product_id)
        if ownership is None:
            created.append(
                Ownership(
                    contact_id=contact_id,
                    company_id=company_id,
                    product_id=product_id,
                    since=at,
                    last_purchase_at=at,
                    offer=offer,
                )
            )
            continue
        ownership.since = min(ownership.since, at)
        if at >= ownership.last_purchase_at:
            ownership.last_purchase_at = at
            if offer is not None:
                ownership.offer = offer
        if company_id is not None:
            ownership.company_id = company_id
        changed.append(ownership)
    if changed:
        Ownership.objects.bulk_update(changed, ["since", "last_purchase_at", "offer", "company"])
    if created:
        Ownership.objects.bulk_create(created)
