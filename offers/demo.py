"""Demo catalogue and offers for ``manage.py load_demo``: the electronics design service's products
with the topics the demo events carry (``scoring.demo.TOPICS``), a won offer for every demo customer
(dated at its move to customer, so that its ownership starts then), a repeat order for some of them,
and open, lost and draft offers for the prospects.

Offers go through ``offers.services`` like any other (send, win, lose — none of them moves a demo
contact, which is at that stage already), then get their historic dates. Which products a contact
bought follows its strongest topic of interest, so the R/U/C detector finds customers interested in
topics of products they do not own yet.

Idempotent and deterministic: products are found by name; a demo contact that has any offer is left
alone; each contact's choices come from a generator seeded by the demo seed and its email.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from funnel import demo as funnel_demo
from funnel.models import Contact, StageTransition
from offers.models import Offer, Product
from offers.services import offer_create, offer_lose, offer_send, offer_win, product_save
from scoring.models import ContactTopic

# (name, article number, family, list price, bought repeatedly, topics, description)
PRODUCTS = (
    ("PCB layout", "PCB-100", "Design", "4800", False, ["pcb-design"],
     "Multilayer PCB layout from the schematic to manufacturing data."),
    ("PCB layout pro (HDI, BGA)", "PCB-200", "Design", "9500", False, ["pcb-design", "bga"],
     "HDI boards with BGA fan-out, impedance control and stack-up planning."),
    ("Schematic review", "DES-050", "Design", "950", False, ["pcb-design"],
     "An engineer checks the schematic before layout starts."),
    ("EMC pre-compliance testing", "EMC-100", "EMC", "3200", False, ["emv"],
     "Radiated and conducted emissions measured before the certification lab."),
    ("EMC layout review", "EMC-050", "EMC", "1400", False, ["emv", "pcb-design"],
     "The layout checked for EMC pitfalls: return paths, filtering, shielding."),
    ("Prototype build", "PRO-100", "Manufacturing", "2500", True, ["prototyp", "bga"],
     "Five to fifty assembled prototype boards in ten working days."),
    ("Series production support", "SER-100", "Manufacturing", "12000", True, ["serienfertigung", "ems"],
     "Industrialisation, test concept and supervision of series production."),
    ("EMS partner selection", "EMS-100", "Manufacturing", "1800", False, ["ems"],
     "Finding and qualifying the right contract manufacturer."),
    ("Firmware development", "FW-100", "Firmware", "7800", False, ["firmware", "embedded"],
     "Bare-metal and RTOS firmware for the board, with bring-up."),
)  # fmt: skip
LOST_REASONS = (
    "Too expensive",
    "Went with a competitor",
    "Project postponed",
    "No budget this year",
    "Doing it in-house",
)
CUSTOMER_STAGES = ("customer", "consumption", "reference")
REPEAT_SHARE = 0.3
# About half of the offers are won (seed 000): customers lost an offer before some won ones, and a
# good part of the prospects' offers are lost.
LOST_BEFORE_WIN_SHARE = 0.4
OPEN_SHARE = 0.45
LOST_SHARE = 0.35
DRAFT_SHARE = 0.1


@dataclass
class DemoOffersResult:
    products_created: int = 0
    offers_created: int = 0
    won: int = 0


@transaction.atomic
def load_demo_offers(*, seed: int = funnel_demo.DEFAULT_SEED) -> DemoOffersResult:
    result = DemoOffersResult()
    products = _ensure_products(result)
    product_topics = {
        p.pk: [t.topic for t in p.topics.all()] for p in Product.objects.prefetch_related("topics")
    }
    emails = [p.email.lower() for p in funnel_demo.build_plan(seed=seed).contacts]
    contacts = list(
        Contact.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
        .exclude(offers__isnull=False)
        .select_related("stage", "company")
        .order_by("pk")
    )
    if not contacts:
        return result
    ids = [c.pk for c in contacts]
    histories = _histories(ids)
    topics = _top_topics(ids)
    fallback_owner = get_user_model().objects.filter(username="sales").first()
    now = timezone.now()
    for contact in contacts:
        history = histories.get(contact.pk, {})
        rng = random.Random(
            int.from_bytes(hashlib.sha256(f"{seed}:offers:{contact.email}".encode()).digest()[:8], "big")
        )
        owner = contact.owner or fallback_owner
        plan = _Planner(rng, products, product_topics, topics.get(contact.pk, []), contact, owner, now)
        if contact.stage.key in CUSTOMER_STAGES and "customer" in history:
            if rng.random() < LOST_BEFORE_WIN_SHARE:
                plan.lost_before(history["customer"])
            plan.won(history["customer"])
            if contact.stage.key != "customer" and rng.random() < REPEAT_SHARE:
                plan.repeat(history["customer"])
        elif contact.stage.key == "prospect" and "prospect" in history:
            plan.prospect(history["prospect"])
        result.offers_created += plan.offers
        result.won += plan.wins
    return result


def _ensure_products(result: DemoOffersResult) -> list[Product]:
    existing = {p.name: p for p in Product.objects.filter(name__in=[row[0] for row in PRODUCTS])}
    products = []
    for name, sku, family, price, repeatable, topics, description in PRODUCTS:
        product = existing.get(name)
        if product is None:
            product = product_save(
                name=name,
                sku=sku,
                family=family,
                price=Decimal(price),
                repeatable=repeatable,
                topics=topics,
                description=description,
            )
            result.products_created += 1
        products.append(product)
    return products


def _histories(contact_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """Per contact: when it first entered each stage."""
    histories: dict[int, dict[str, datetime]] = {}
    rows = (
        StageTransition.objects.filter(contact_id__in=contact_ids)
        .order_by("contact_id", "at", "id")
        .values_list("contact_id", "to_stage__key", "at")
    )
    for contact_id, key, at in rows:
        histories.setdefault(contact_id, {}).setdefault(key, at)
    # Reaching a later stage directly counts as having reached customer then.
    for moves in histories.values():
        if "customer" not in moves:
            later = [moves[k] for k in CUSTOMER_STAGES if k in moves]
            if later:
                moves["customer"] = min(later)
    return histories


def _top_topics(contact_ids: list[int]) -> dict[int, list[str]]:
    rows = (
        ContactTopic.objects.filter(contact_id__in=contact_ids)
        .order_by("contact_id", "-events", "topic")
        .values_list("contact_id", "topic")
    )
    topics: dict[int, list[str]] = {}
    for contact_id, topic in rows:
        topics.setdefault(contact_id, []).append(topic)
    return topics


class _Planner:
    """One contact's demo offers, made through the services and then dated."""

    def __init__(self, rng, products, product_topics, topics, contact, owner, now):
        self.rng, self.products, self.product_topics, self.topics = rng, products, product_topics, topics
        self.contact, self.owner, self.now = contact, owner, now
        self.offers = self.wins = 0

    def won(self, customer_at: datetime) -> None:
        lines = self._lines(self._pick(2))
        sent = customer_at - timedelta(days=self.rng.randint(7, 30))
        offer = self._make(lines, sent=sent)
        offer_win(offer=offer, by=self.owner, at=customer_at)
        self._date(offer, sent=sent, decided=customer_at)
        self.wins += 1

    def lost_before(self, customer_at: datetime) -> None:
        decided = customer_at - timedelta(days=self.rng.randint(30, 120))
        sent = decided - timedelta(days=self.rng.randint(10, 40))
        offer = self._make(self._lines(self._pick(1)), sent=sent)
        offer_lose(offer=offer, by=self.owner, reason=self.rng.choice(LOST_REASONS))
        self._date(offer, sent=sent, decided=decided)

    def repeat(self, customer_at: datetime) -> None:
        repeatable = [p for p in self.products if p.repeatable]
        decided = customer_at + timedelta(days=self.rng.randint(60, 240))
        if decided > self.now - timedelta(days=3):
            return
        lines = self._lines([self.rng.choice(repeatable)])
        sent = decided - timedelta(days=self.rng.randint(5, 20))
        offer = self._make(lines, sent=sent)
        offer_win(offer=offer, by=self.owner, at=decided)
        self._date(offer, sent=sent, decided=decided)
        self.wins += 1

    def prospect(self, prospect_at: datetime) -> None:
        roll = self.rng.random()
        if roll < LOST_SHARE:
            sent = min(prospect_at + timedelta(days=self.rng.randint(2, 10)), self.now - timedelta(days=2))
            decided = min(sent + timedelta(days=self.rng.randint(10, 45)), self.now - timedelta(hours=1))
            offer = self._make(self._lines(self._pick(1)), sent=sent)
            offer_lose(offer=offer, by=self.owner, reason=self.rng.choice(LOST_REASONS))
            self._date(offer, sent=sent, decided=decided)
        elif roll < LOST_SHARE + OPEN_SHARE:
            sent = min(prospect_at + timedelta(days=self.rng.randint(1, 14)), self.now - timedelta(hours=2))
            offer = self._make(self._lines(self._pick(2)), sent=sent)
            self._date(offer, sent=sent)
        elif roll < LOST_SHARE + OPEN_SHARE + DRAFT_SHARE:
            created = self.now - timedelta(days=self.rng.randint(0, 5), hours=3)
            offer = self._make(self._lines(self._pick(1)), sent=None)
            Offer.objects.filter(pk=offer.pk).update(created_at=created, updated_at=created)

    def _pick(self, most: int) -> list[Product]:
        """Products that fit the contact's strongest topic first, then one more now and then."""
        fitting = [p for p in self.products if set(self.product_topics[p.pk]) & set(self.topics[:1])]
        chosen = [self.rng.choice(fitting or self.products)]
        if most > 1 and self.rng.random() < 0.35:
            other = self.rng.choice(self.products)
            if other not in chosen:
                chosen.append(other)
        return chosen

    def _lines(self, products: list[Product]) -> list[tuple]:
        lines = []
        for product in products:
            quantity = self.rng.randint(5, 40) if product.sku.startswith("PRO") else 1
            discount = Decimal(self.rng.choice(("1", "1", "0.95", "0.9", "0.85")))
            unit = (product.price * discount).quantize(Decimal("1"))
            if quantity > 1:
                unit = (unit / 10).quantize(Decimal("0.01"))
            lines.append((product, quantity, unit))
        return lines

    def _make(self, lines, *, sent: datetime | None) -> Offer:
        names = " + ".join(p.name for p, _q, _u in lines)
        company = self.contact.company.name if self.contact.company else str(self.contact)
        offer = offer_create(
            contact=self.contact,
            title=f"{names} for {company}"[:200],
            items=lines,
            owner=self.owner,
            currency="EUR",
            by=self.owner,
        )
        if sent is not None:
            offer_send(offer=offer, by=self.owner)
        self.offers += 1
        return offer

    def _date(self, offer: Offer, *, sent: datetime, decided: datetime | None = None) -> None:
        created = sent - timedelta(days=self.rng.randint(1, 3), hours=self.rng.randint(0, 8))
        Offer.objects.filter(pk=offer.pk).update(
            created_at=created, sent_at=sent, decided_at=decided, updated_at=decided or sent
        )
