"""Offers and products, service by service: the catalogue and its topics, an offer's life (draft →
open → won or lost) with the stage moves and ownership records it causes, and the selectors the
lists and the planning feature read (value in SQL, win rate, average order value)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from funnel.models import StageTransition
from funnel.services import contact_delete
from offers import selectors, services
from offers.models import Offer, OfferItem, Ownership, Product, ProductTopic
from offers.signals import offer_won
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db


def product(name="PCB layout", *, topics=("pcb-design",), price="1000.00", **fields) -> Product:
    return services.product_save(name=name, topics=list(topics), price=Decimal(price), **fields)


def offer(contact=None, *, lines=None, title="Layout for the new board", **fields) -> Offer:
    contact = contact or ContactFactory(stage=stage("lead"))
    if lines is None:
        lines = [(Product.objects.filter(name="PCB layout").first() or product(), 2, Decimal("950.00"))]
    return services.offer_create(contact=contact, title=title, items=lines, **fields)


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# --- Products -------------------------------------------------------------------------------------


def test_topics_are_normalised_to_unique_lower_case_slugs():
    saved = services.product_save(
        name="EMC testing", topics=["  EMV ", "PCB Design", "pcb-design", "", "Überspannung", "emv"]
    )
    assert list(saved.topics.values_list("topic", flat=True)) == ["emv", "pcb-design", "überspannung"]


def test_topics_that_are_no_slug_or_too_long_are_refused():
    with pytest.raises(ValidationError) as excinfo:
        services.product_save(name="X", topics=["!!!", "a" * 101])
    assert len(errors_of(excinfo)["topics"]) == 2
    assert not Product.objects.exists()


def test_topics_are_replaced_and_left_alone_when_not_given():
    saved = product(topics=["emv", "bga"])
    services.product_save(product=saved, topics=["bga", "ems"])
    assert sorted(saved.topics.values_list("topic", flat=True)) == ["bga", "ems"]
    services.product_save(product=saved, description="Now with a description")
    assert sorted(saved.topics.values_list("topic", flat=True)) == ["bga", "ems"]


def test_product_names_are_unique_regardless_of_case():
    product("PCB layout")
    with pytest.raises(ValidationError) as excinfo:
        product("pcb LAYOUT ")
    assert "name" in errors_of(excinfo)
    assert Product.objects.count() == 1


def test_product_fields_are_validated():
    with pytest.raises(ValidationError) as excinfo:
        services.product_save(name="", topics=[], price=Decimal("-1"))
    assert {"name", "price"} <= set(errors_of(excinfo))
    with pytest.raises(TypeError):
        services.product_save(name="X", topics=[], colour="red")


def test_unused_product_can_be_deleted():
    saved = product()
    services.product_delete(product=saved)
    assert not Product.objects.exists()
    assert not ProductTopic.objects.exists()


def test_product_delete_is_refused_while_offers_use_it():
    made = offer()
    used = made.items.get().product
    with pytest.raises(ValidationError) as excinfo:
        services.product_delete(product=used)
    assert "inactive" in excinfo.value.messages[0]
    assert Product.objects.filter(pk=used.pk).exists()


def test_product_delete_is_refused_while_someone_owns_it():
    owned = product()
    services.ownership_record(contact=ContactFactory(), product=owned, since=timezone.now())
    with pytest.raises(ValidationError):
        services.product_delete(product=owned)
    assert Product.objects.filter(pk=owned.pk).exists()


# --- Creating and changing offers -----------------------------------------------------------------


def test_offer_create_stores_a_draft_with_its_lines_and_the_contacts_company():
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    layout, emc = product("PCB layout"), product("EMC testing", topics=["emv"], price="500")
    owner = UserFactory()
    made = services.offer_create(
        contact=contact,
        title=" New board ",
        items=[(layout, 1, "1200.50"), (emc, 3, None)],
        owner=owner,
        currency="eur",
        by=owner,
    )
    assert (made.status, made.title, made.company, made.currency, made.owner) == (
        "draft",
        "New board",
        company,
        "EUR",
        owner,
    )
    lines = list(made.items.order_by("id").values_list("product__name", "quantity", "unit_price"))
    assert lines == [("PCB layout", 1, Decimal("1200.50")), ("EMC testing", 3, Decimal("500.00"))]
    assert made.value == Decimal("2700.50")


def test_offer_create_may_name_another_company_or_none():
    contact = ContactFactory(company=CompanyFactory())
    other = CompanyFactory()
    assert offer(contact, company=other).company == other
    assert offer(contact, company=None).company is None


@pytest.mark.parametrize(
    "lines, fragment",
    [
        ([], "at least one"),
        ([(None, 1, "1")], "choose a product"),
        ([("PRODUCT", 0, "1")], "quantity"),
        ([("PRODUCT", -3, "1")], "quantity"),
        ([("PRODUCT", 1.5, "1")], "quantity"),
        ([("PRODUCT", True, "1")], "quantity"),
        ([("PRODUCT", 1, "-0.01")], "unit price"),
        ([("PRODUCT", 1, "1.234")], "unit price"),
        ([("PRODUCT", 1, "abc")], "unit price"),
        ([("PRODUCT", 1, "NaN")], "unit price"),
        ([("PRODUCT", 1, "1e20")], "unit price"),
        ([("PRODUCT", 1, "1"), ("PRODUCT", 2, "1")], "already"),
    ],
)
def test_bad_lines_are_refused_naming_the_line(lines, fragment):
    contact = ContactFactory()
    item = product()
    lines = [(item if p == "PRODUCT" else p, q, price) for p, q, price in lines]
    with pytest.raises(ValidationError) as excinfo:
        services.offer_create(contact=contact, title="T", items=lines)
    messages = errors_of(excinfo)["items"]
    assert fragment in " ".join(messages)
    assert not Offer.objects.exists()
    assert not OfferItem.objects.exists()


def test_a_line_without_price_needs_a_list_price():
    free = services.product_save(name="Consulting", topics=[])
    with pytest.raises(ValidationError) as excinfo:
        services.offer_create(contact=ContactFactory(), title="T", items=[(free, 1, None)])
    assert "Line 1" in errors_of(excinfo)["items"][0]


def test_inactive_products_are_not_offered_any_more():
    old = product(active=False)
    with pytest.raises(ValidationError) as excinfo:
        services.offer_create(contact=ContactFactory(), title="T", items=[(old, 1, "1")])
    assert "inactive" in errors_of(excinfo)["items"][0]


@pytest.mark.parametrize("currency", ["EURO", "E1", "", "€€€"])
def test_currency_must_be_a_three_letter_code(currency):
    with pytest.raises(ValidationError) as excinfo:
        offer(currency=currency)
    assert "currency" in errors_of(excinfo)
    assert not Offer.objects.exists()


def test_title_and_contact_are_required():
    with pytest.raises(ValidationError) as excinfo:
        services.offer_create(contact=None, title="  ", items=[(product(), 1, "1")])
    assert {"contact", "title"} <= set(errors_of(excinfo))


def test_offer_update_changes_fields_and_replaces_lines():
    made = offer()
    emc = product("EMC testing", topics=["emv"])
    services.offer_update(offer=made, title="Changed", currency="USD", items=[(emc, 5, "10")])
    made.refresh_from_db()
    assert (made.title, made.currency) == ("Changed", "USD")
    assert list(made.items.values_list("product__name", "quantity")) == [("EMC testing", 5)]


def test_offer_update_keeps_a_line_whose_product_became_inactive():
    made = offer()
    line = made.items.get()
    services.product_save(product=line.product, active=False)
    services.offer_update(offer=made, items=[(line.product, 3, line.unit_price)])
    assert made.items.get().quantity == 3


def test_offer_update_refused_on_bad_input_changes_nothing():
    made = offer()
    with pytest.raises(ValidationError):
        services.offer_update(offer=made, title="New", items=[])
    made.refresh_from_db()
    assert made.title == "Layout for the new board"
    assert made.items.count() == 1


@pytest.mark.parametrize("decide", ["win", "lose"])
def test_decided_offers_cannot_be_changed_or_deleted(decide):
    made = offer()
    if decide == "win":
        services.offer_win(offer=made)
    else:
        services.offer_lose(offer=made, reason="Too expensive")
    with pytest.raises(ValidationError) as excinfo:
        services.offer_update(offer=made, title="Changed")
    assert NON_FIELD_ERRORS in errors_of(excinfo)
    with pytest.raises(ValidationError):
        services.offer_delete(offer=made)
    assert Offer.objects.get().title == "Layout for the new board"


def test_only_drafts_can_be_deleted():
    draft = offer()
    services.offer_delete(offer=draft)
    assert not Offer.objects.exists()
    sent = services.offer_send(offer=offer())
    with pytest.raises(ValidationError):
        services.offer_delete(offer=sent)
    assert Offer.objects.filter(pk=sent.pk).exists()


# --- Sending: lead → prospect ---------------------------------------------------------------------


@pytest.mark.parametrize("start", ["suspect", "lead"])
def test_sending_makes_an_earlier_contact_a_prospect_through_contact_move_stage(start):
    rep = UserFactory()
    contact = ContactFactory(stage=stage(start))
    made = offer(contact)
    sent = services.offer_send(offer=made, by=rep)
    assert sent.status == "open"
    assert sent.sent_at is not None
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    move = StageTransition.objects.filter(contact=contact).last()
    assert (move.from_stage.key, move.to_stage.key, move.by, move.reason) == (
        start,
        "prospect",
        rep,
        "offer sent",
    )


@pytest.mark.parametrize("later", ["prospect", "customer", "consumption", "reference"])
def test_sending_never_moves_a_contact_back(later):
    contact = ContactFactory(stage=stage(later))
    services.offer_send(offer=offer(contact))
    contact.refresh_from_db()
    assert contact.stage.key == later
    assert StageTransition.objects.filter(contact=contact).count() == 1  # only the entry


def test_sending_twice_changes_nothing():
    made = services.offer_send(offer=offer())
    first = made.sent_at
    again = services.offer_send(offer=Offer.objects.get(pk=made.pk))
    assert again.sent_at == first
    assert StageTransition.objects.filter(reason="offer sent").count() == 1


@pytest.mark.parametrize("decide", ["win", "lose"])
def test_decided_offers_cannot_be_sent(decide):
    made = offer()
    if decide == "win":
        services.offer_win(offer=made)
    else:
        services.offer_lose(offer=made, reason="No budget")
    with pytest.raises(ValidationError):
        services.offer_send(offer=made)
    assert Offer.objects.get().status == ("won" if decide == "win" else "lost")


# --- Winning: customer and ownership --------------------------------------------------------------


def test_winning_makes_the_contact_a_customer_and_records_ownership():
    rep = UserFactory()
    company = CompanyFactory()
    contact = ContactFactory(stage=stage("prospect"), company=company)
    layout, emc = product("PCB layout"), product("EMC testing", topics=["emv"])
    made = offer(contact, lines=[(layout, 1, "100"), (emc, 2, "50")])
    services.offer_send(offer=made, by=rep)
    won = services.offer_win(offer=made, by=rep)
    assert won.status == "won"
    assert won.decided_at is not None
    contact.refresh_from_db()
    assert contact.stage.key == "customer"
    move = StageTransition.objects.filter(contact=contact).last()
    assert (move.from_stage.key, move.to_stage.key, move.by, move.reason) == (
        "prospect",
        "customer",
        rep,
        "offer won",
    )
    owned = {o.product.name: o for o in Ownership.objects.select_related("product")}
    assert set(owned) == {"PCB layout", "EMC testing"}
    for ownership in owned.values():
        assert (ownership.contact, ownership.company, ownership.offer) == (contact, company, won)
        assert ownership.since == ownership.last_purchase_at == won.decided_at


def test_winning_a_draft_of_a_lead_goes_straight_to_customer():
    contact = ContactFactory(stage=stage("lead"))
    services.offer_win(offer=offer(contact))
    contact.refresh_from_db()
    assert contact.stage.key == "customer"
    assert StageTransition.objects.filter(contact=contact, reason="offer won").count() == 1


@pytest.mark.parametrize("later", ["customer", "consumption", "reference"])
def test_winning_never_moves_a_contact_back(later):
    contact = ContactFactory(stage=stage(later))
    services.offer_win(offer=offer(contact))
    contact.refresh_from_db()
    assert contact.stage.key == later
    assert Ownership.objects.filter(contact=contact).count() == 1


def test_a_repeat_purchase_updates_the_ownership():
    contact = ContactFactory(stage=stage("customer"))
    boards = product("Prototype build", topics=["prototyp"], repeatable=True)
    then = timezone.now() - timedelta(days=200)
    first = services.offer_win(offer=offer(contact, lines=[(boards, 10, "20")]), at=then)
    ownership = Ownership.objects.get()
    assert ownership.since == ownership.last_purchase_at == then

    second = services.offer_win(offer=offer(contact, lines=[(boards, 5, "20")]))
    assert Ownership.objects.count() == 1
    ownership.refresh_from_db()
    assert ownership.since == then
    assert ownership.last_purchase_at == second.decided_at
    assert ownership.offer_id == second.pk
    assert first.pk != second.pk


def test_a_late_recorded_older_order_does_not_hide_the_newer_purchase():
    contact = ContactFactory(stage=stage("customer"))
    boards = product("Prototype build", topics=["prototyp"])
    recent = services.offer_win(offer=offer(contact, lines=[(boards, 1, "1")]))
    older = timezone.now() - timedelta(days=400)
    services.offer_win(offer=offer(contact, lines=[(boards, 1, "1")]), at=older)
    ownership = Ownership.objects.get()
    assert (ownership.since, ownership.last_purchase_at, ownership.offer_id) == (
        older,
        recent.decided_at,
        recent.pk,
    )


def test_winning_twice_changes_nothing():
    made = offer()
    won = services.offer_win(offer=made)
    decided = won.decided_at
    again = services.offer_win(offer=Offer.objects.get(pk=made.pk), at=timezone.now() - timedelta(days=3))
    assert again.decided_at == decided
    assert StageTransition.objects.filter(reason="offer won").count() == 1
    assert Ownership.objects.count() == 1


def test_a_lost_offer_cannot_be_won():
    made = offer()
    services.offer_lose(offer=made, reason="Competitor")
    with pytest.raises(ValidationError):
        services.offer_win(offer=made)
    assert not Ownership.objects.exists()
    assert Offer.objects.get().status == "lost"


def test_an_order_cannot_be_dated_in_the_future():
    made = offer()
    with pytest.raises(ValidationError) as excinfo:
        services.offer_win(offer=made, at=timezone.now() + timedelta(days=1))
    assert "decided_at" in errors_of(excinfo)
    assert Offer.objects.get().status == "draft"


def test_winning_sends_offer_won_after_commit(django_capture_on_commit_callbacks):
    received = []

    def receiver(**kwargs):
        received.append(kwargs)

    offer_won.connect(receiver)
    try:
        made = offer()
        with django_capture_on_commit_callbacks(execute=True):
            services.offer_win(offer=made)
    finally:
        offer_won.disconnect(receiver)
    assert len(received) == 1
    assert received[0]["offer_id"] == made.pk
    assert received[0]["product_ids"] == [made.items.get().product_id]


def test_an_offer_outlives_its_deleted_contact():
    contact = ContactFactory(stage=stage("prospect"))
    made = offer(contact)
    services.offer_win(offer=made)
    contact_delete(contact=contact)
    made.refresh_from_db()
    assert made.contact is None
    assert made.status == "won"
    assert not Ownership.objects.exists()


# --- Losing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_losing_needs_a_reason(reason):
    made = offer()
    with pytest.raises(ValidationError) as excinfo:
        services.offer_lose(offer=made, reason=reason)
    assert "reason" in errors_of(excinfo)
    assert Offer.objects.get().status == "draft"


def test_a_too_long_reason_is_refused():
    with pytest.raises(ValidationError):
        services.offer_lose(offer=offer(), reason="x" * 301)


def test_losing_records_reason_and_date_and_moves_nobody():
    contact = ContactFactory(stage=stage("prospect"))
    made = services.offer_send(offer=offer(contact))
    lost = services.offer_lose(offer=made, reason="  Too expensive ")
    assert (lost.status, lost.lost_reason) == ("lost", "Too expensive")
    assert lost.decided_at is not None
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    assert not Ownership.objects.exists()


def test_losing_twice_keeps_the_first_reason_and_a_won_offer_cannot_be_lost():
    made = offer()
    services.offer_lose(offer=made, reason="First")
    services.offer_lose(offer=made, reason="Second")
    assert Offer.objects.get().lost_reason == "First"

    won = services.offer_win(offer=offer(title="Other"))
    with pytest.raises(ValidationError):
        services.offer_lose(offer=won, reason="Changed their mind")
    assert Offer.objects.get(pk=won.pk).status == "won"


# --- Manual ownership -----------------------------------------------------------------------------


def test_ownership_record_creates_and_keeps_the_earliest_date():
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    owned = product()
    then = timezone.now() - timedelta(days=30)
    record = services.ownership_record(contact=contact, product=owned, since=then)
    assert (record.contact, record.company, record.product, record.since, record.offer) == (
        contact,
        company,
        owned,
        then,
        None,
    )
    earlier = then - timedelta(days=300)
    again = services.ownership_record(contact=contact, product=owned, since=earlier)
    assert again.pk == record.pk
    assert (again.since, again.last_purchase_at) == (earlier, then)
    assert Ownership.objects.count() == 1


def test_ownership_record_refuses_a_future_date():
    with pytest.raises(ValidationError) as excinfo:
        services.ownership_record(
            contact=ContactFactory(), product=product(), since=timezone.now() + timedelta(days=2)
        )
    assert "since" in errors_of(excinfo)
    assert not Ownership.objects.exists()


def test_ownership_delete():
    record = services.ownership_record(contact=ContactFactory(), product=product(), since=timezone.now())
    services.ownership_delete(ownership=record)
    assert not Ownership.objects.exists()


# --- Selectors ------------------------------------------------------------------------------------


def test_offer_list_annotates_the_value_and_filters(django_assert_num_queries):
    rep = UserFactory()
    contact = ContactFactory()
    layout, emc = product("PCB layout"), product("EMC testing", topics=["emv"])
    both = offer(contact, lines=[(layout, 2, "100.25"), (emc, 1, "10")], owner=rep)
    only_emc = offer(lines=[(emc, 3, "10")])
    services.offer_send(offer=only_emc)
    with django_assert_num_queries(1):
        listed = {o.pk: o.value for o in selectors.offer_list()}
    assert listed == {both.pk: Decimal("210.50"), only_emc.pk: Decimal("30.00")}
    # Filtering by product does not cut the value down to that product's line.
    assert [o.value for o in selectors.offer_list(product_id=layout.pk)] == [Decimal("210.50")]
    assert [o.pk for o in selectors.offer_list(product_id=emc.pk)] == [only_emc.pk, both.pk]
    assert [o.pk for o in selectors.offer_list(status="open")] == [only_emc.pk]
    assert [o.pk for o in selectors.offer_list(owner_id=rep.pk)] == [both.pk]
    assert [o.pk for o in selectors.offer_list(contact_id=contact.pk)] == [both.pk]
    assert [o.pk for o in selectors.offer_list(search="LAYOUT")] == [only_emc.pk, both.pk]


def decided(status, value, days_ago, currency="EUR"):
    made = offer(lines=[(product(f"P{Offer.objects.count()}"), 1, value)], currency=currency)
    at = timezone.now() - timedelta(days=days_ago)
    if status == "won":
        services.offer_win(offer=made, at=at)
    else:
        services.offer_lose(offer=made, reason="No")
        Offer.objects.filter(pk=made.pk).update(decided_at=at)
    return made


def test_offer_stats_win_rate_and_average_order_value(django_assert_num_queries):
    decided("won", "1000", 10)
    decided("won", "3000.50", 20)
    decided("won", "999", 20, currency="USD")
    decided("lost", "500", 5)
    decided("won", "7777", 100)  # outside the period
    offer()  # a draft: not decided
    since, until = date.today() - timedelta(days=30), date.today()
    with django_assert_num_queries(1):
        stats = selectors.offer_stats(since=since, until=until)
    assert stats == {
        "won": 3,
        "lost": 1,
        "win_rate": 0.75,
        "average_order_value": Decimal("2000.25"),
        "revenue": Decimal("4000.50"),
        "currency": "EUR",
    }
    assert selectors.offer_stats(since=since, until=until, currency="USD")["average_order_value"] == Decimal(
        "999.00"
    )
    assert selectors.offer_stats(since=None, until=None)["won"] == 4


def test_offer_stats_without_decisions():
    offer()
    stats = selectors.offer_stats(since=date.today() - timedelta(days=7), until=date.today())
    assert stats["won"] == stats["lost"] == 0
    assert stats["win_rate"] is None
    assert stats["average_order_value"] is None


def test_ownerships_of_contact_and_company():
    company = CompanyFactory()
    anna, ben = ContactFactory(company=company), ContactFactory(company=company)
    layout, emc = product("PCB layout"), product("EMC testing", topics=["emv"])
    services.ownership_record(contact=anna, product=layout, since=timezone.now() - timedelta(days=2))
    services.ownership_record(contact=ben, product=emc, since=timezone.now() - timedelta(days=1))
    services.ownership_record(contact=ContactFactory(), product=emc, since=timezone.now())
    assert [o.product.name for o in selectors.contact_ownerships(contact_id=anna.pk)] == ["PCB layout"]
    assert [o.contact for o in selectors.company_ownerships(company_id=company.pk)] == [ben, anna]
    assert selectors.owned_product_ids(contact_id=ben.pk) == {emc.pk}


def test_product_list_usage_counts(django_assert_num_queries):
    used = product("PCB layout", topics=["pcb-design", "bga"])
    product("Unused", topics=[])
    services.offer_win(offer=offer(lines=[(used, 1, "1")]))
    offer(lines=[(used, 1, "1")], title="Second")
    with django_assert_num_queries(2):  # the products, their topics
        rows = {
            p.name: (p.offer_count, p.owner_count, [t.topic for t in p.topics.all()])
            for p in selectors.product_list(with_usage=True)
        }
    assert rows == {"PCB layout": (2, 1, ["bga", "pcb-design"]), "Unused": (0, 0, [])}
    assert [p.name for p in selectors.product_list(topic="BGA")] == ["PCB layout"]


# --- Demo -----------------------------------------------------------------------------------------


def test_demo_offers_fit_the_demo_histories_and_load_once():
    from funnel import demo as funnel_demo
    from funnel.models import Contact
    from offers.demo import PRODUCTS, load_demo_offers

    funnel_demo.load_demo()
    transitions = StageTransition.objects.count()
    first = load_demo_offers()
    assert first.products_created == len(PRODUCTS)
    assert first.offers_created > 50
    # Offers never moved a demo contact: they are at their stages already.
    assert StageTransition.objects.count() == transitions
    customers = Contact.objects.filter(stage__key__in=["customer", "consumption", "reference"])
    for contact in customers:
        entered = (
            StageTransition.objects.filter(
                contact=contact, to_stage__position__gte=stage("customer").position
            )
            .order_by("at")
            .first()
            .at
        )
        won = contact.offers.filter(status="won").order_by("decided_at")
        assert won.exists(), contact
        assert won.first().decided_at == entered
        assert won.first().sent_at < entered
        owned = Ownership.objects.filter(contact=contact)
        assert owned.exists()
        assert min(o.since for o in owned) == entered
    prospects = Offer.objects.filter(contact__stage__key="prospect")
    assert prospects.filter(status="open").exists()
    assert prospects.filter(status="lost").exclude(lost_reason="").exists()
    assert not Offer.objects.filter(contact__stage__key__in=["suspect", "lead"]).exists()
    stats = selectors.offer_stats(since=None, until=None)
    assert 0.4 < stats["win_rate"] < 0.85
    assert Offer.objects.filter(sent_at__gt=timezone.now()).count() == 0

    before = (Offer.objects.count(), Ownership.objects.count(), Product.objects.count())
    again = load_demo_offers()
    assert (again.products_created, again.offers_created) == (0, 0)
    assert (Offer.objects.count(), Ownership.objects.count(), Product.objects.count()) == before


def test_demo_topics_are_the_demo_events_topics():
    from offers.demo import PRODUCTS
    from scoring.demo import TOPICS

    used = {topic for *_rest, topics, _description in PRODUCTS for topic in topics}
    assert set(TOPICS) <= used
    assert services.normalise_topics(sorted(used)) == sorted(used)
