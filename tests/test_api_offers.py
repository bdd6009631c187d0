"""Offers over the API: /api/v1/products/, /api/v1/offers/ (with send, win, lose) and
/api/v1/ownerships/ — fields, filters, roles, bad input (400 naming the field, nothing stored) and
the number of queries a list costs."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from funnel.models import StageTransition
from offers import services
from offers.models import Offer, OfferItem, Ownership, Product, ProductTopic
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
OFFERS = "/api/v1/offers/"
OWNERSHIPS = "/api/v1/ownerships/"
PRODUCT_FIELDS = {
    "id",
    "name",
    "sku",
    "description",
    "price",
    "family",
    "repeatable",
    "active",
    "topics",
    "created_at",
    "updated_at",
}
OFFER_FIELDS = {
    "id",
    "title",
    "contact",
    "company",
    "owner",
    "status",
    "currency",
    "items",
    "value",
    "lost_reason",
    "sent_at",
    "decided_at",
    "created_at",
    "updated_at",
}
ITEM_FIELDS = {"product", "product_name", "quantity", "unit_price", "amount"}
OWNERSHIP_FIELDS = {
    "id",
    "contact",
    "company",
    "product",
    "product_name",
    "since",
    "last_purchase_at",
    "offer",
}


@pytest.fixture
def sales(api_client_for, sales_user):
    return api_client_for(sales_user)


@pytest.fixture
def marketing(api_client_for, marketing_user):
    return api_client_for(marketing_user)


def product(name="PCB layout", *, topics=("pcb-design",), price="1000.00", **fields) -> Product:
    return services.product_save(name=name, topics=list(topics), price=Decimal(price), **fields)


def offer(contact=None, *, item=None, title="New board", quantity=2, price="500", **fields) -> Offer:
    contact = contact or ContactFactory(stage=stage("lead"))
    item = item or Product.objects.filter(name="PCB layout").first() or product()
    return services.offer_create(
        contact=contact, title=title, items=[(item, quantity, Decimal(price))], **fields
    )


def stored() -> tuple:
    """Everything the offers app stores, to show a rejected request stored nothing."""
    return (
        list(Product.objects.order_by("pk").values()),
        list(ProductTopic.objects.order_by("pk").values()),
        list(Offer.objects.order_by("pk").values()),
        list(OfferItem.objects.order_by("pk").values()),
        list(Ownership.objects.order_by("pk").values()),
        StageTransition.objects.count(),
    )


# --- Auth and roles ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PRODUCTS, OFFERS, OWNERSHIPS])
def test_without_token_401_and_without_role_403(api_client_for, outsider, path):
    assert api_client_for(None).get(path).status_code == 401
    assert api_client_for(None).post(path, {}, format="json").status_code == 401
    assert api_client_for(outsider).get(path).status_code == 403
    assert api_client_for(outsider).post(path, {}, format="json").status_code == 403


def test_outsider_cannot_act_on_offers(api_client_for, outsider):
    made = offer()
    client = api_client_for(outsider)
    before = stored()
    for action in ("send", "win", "lose"):
        assert client.post(f"{OFFERS}{made.pk}/{action}/", {"reason": "x"}, format="json").status_code == 403
    assert client.delete(f"{OFFERS}{made.pk}/").status_code == 403
    assert stored() == before


@pytest.mark.parametrize("role", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_works_with_offers_and_ownership(api_client_for, request, role):
    client = api_client_for(request.getfixturevalue(role))
    item = product()
    contact = ContactFactory()
    body = {"title": "T", "contact": contact.pk, "items": [{"product": item.pk, "quantity": 1}]}
    assert client.post(OFFERS, body, format="json").status_code == 201
    ownership = {"contact": contact.pk, "product": item.pk, "since": "2025-01-01T00:00:00Z"}
    assert client.post(OWNERSHIPS, ownership, format="json").status_code == 201
    assert client.get(PRODUCTS).status_code == 200


def test_sales_reads_but_may_not_change_the_catalogue(sales):
    item = product()
    before = stored()
    assert sales.get(f"{PRODUCTS}{item.pk}/").status_code == 200
    assert sales.post(PRODUCTS, {"name": "X"}, format="json").status_code == 403
    assert sales.patch(f"{PRODUCTS}{item.pk}/", {"name": "X"}, format="json").status_code == 403
    assert sales.delete(f"{PRODUCTS}{item.pk}/").status_code == 403
    assert stored() == before


@pytest.mark.parametrize(
    "path",
    [
        f"{PRODUCTS}424242/",
        f"{PRODUCTS}abc/",
        f"{OFFERS}424242/",
        f"{OFFERS}abc/",
        f"{OFFERS}99999999999999999999999/",
        f"{OWNERSHIPS}424242/",
    ],
)
def test_unknown_objects_are_404(sales, path):
    assert sales.get(path).status_code == 404


@pytest.mark.parametrize("action", ["send", "win", "lose"])
def test_actions_on_unknown_offers_are_404(sales, action):
    assert sales.post(f"{OFFERS}424242/{action}/", {"reason": "x"}, format="json").status_code == 404
    assert sales.post(f"{OFFERS}abc/{action}/", {"reason": "x"}, format="json").status_code == 404


def test_no_put(sales, marketing):
    made = offer()
    assert sales.put(f"{OFFERS}{made.pk}/", {}, format="json").status_code == 405
    assert marketing.put(f"{PRODUCTS}{made.items.get().product_id}/", {}, format="json").status_code == 405
    assert sales.patch(f"{OWNERSHIPS}1/", {}, format="json").status_code == 405


# --- Products ------------------------------------------------------------------------------------


def test_create_product_with_topics(marketing):
    body = {
        "name": "EMC testing",
        "sku": "EMC-1",
        "price": "3200.50",
        "family": "EMC",
        "repeatable": True,
        "topics": ["EMV", " PCB Design ", "emv"],
    }
    response = marketing.post(PRODUCTS, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) == PRODUCT_FIELDS
    assert (data["name"], data["price"], data["topics"], data["active"]) == (
        "EMC testing",
        "3200.50",
        ["emv", "pcb-design"],
        True,
    )
    assert data["created_at"].endswith("Z")


def test_patch_product_replaces_topics_only_when_given(marketing):
    item = product(topics=["bga", "emv"])
    path = f"{PRODUCTS}{item.pk}/"
    assert marketing.patch(path, {"description": "New"}, format="json").json()["topics"] == ["bga", "emv"]
    data = marketing.patch(path, {"topics": ["ems"], "active": False, "price": None}, format="json").json()
    assert (data["topics"], data["active"], data["price"], data["description"]) == (
        ["ems"],
        False,
        None,
        "New",
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 151}, "name"),
        ({"name": "pcb LAYOUT"}, "name"),
        ({"name": "PCB layout"}, "name"),
        ({"name": "N", "price": "-1"}, "price"),
        ({"name": "N", "price": "abc"}, "price"),
        ({"name": "N", "price": "1.999"}, "price"),
        ({"name": "N", "topics": "emv"}, "topics"),
        ({"name": "N", "topics": ["!!!"]}, "topics"),
        ({"name": "N", "topics": ["x" * 201]}, "topics"),
        ({"name": "N", "topics": [f"t{i}" for i in range(51)]}, "topics"),
        ({"name": "N", "topics": [None]}, "topics"),
        ({"name": "N\x00"}, "name"),
        ({"name": "N", "repeatable": "maybe"}, "repeatable"),
    ],
)
def test_bad_product_input_is_400_and_stores_nothing(marketing, body, field):
    product()
    before = stored()
    response = marketing.post(PRODUCTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert stored() == before


def test_product_filters(sales):
    product("PCB layout", topics=["pcb-design"], family="Design")
    product("EMC testing", topics=["emv"], family="EMC", active=False)
    names = lambda **params: [p["name"] for p in sales.get(PRODUCTS, params).json()["results"]]  # noqa: E731
    assert names() == ["EMC testing", "PCB layout"]
    assert names(active="true") == ["PCB layout"]
    assert names(topic="emv") == ["EMC testing"]
    assert names(family="design") == ["PCB layout"]
    assert names(search="emc") == ["EMC testing"]
    assert sales.get(PRODUCTS, {"active": "maybe"}).status_code == 400


def test_delete_unused_product_and_refuse_a_used_one(marketing):
    unused = product("Unused", topics=[])
    assert marketing.delete(f"{PRODUCTS}{unused.pk}/").status_code == 204
    used = offer().items.get().product
    before = stored()
    response = marketing.delete(f"{PRODUCTS}{used.pk}/")
    assert response.status_code == 400
    assert "inactive" in response.json()["non_field_errors"][0]
    assert stored() == before


@pytest.mark.parametrize("n", [1, 10])
def test_product_list_query_count_is_constant(sales, django_assert_num_queries, n):
    for i in range(n):
        product(f"Product {i}", topics=[f"t{i}", "shared"])
    sales.get(PRODUCTS)  # the first request records the token's use
    # token (with user), roles, count, products, their topics
    with django_assert_num_queries(5):
        assert len(sales.get(PRODUCTS).json()["results"]) == n


# --- Offers: create, read, change, delete --------------------------------------------------------


def test_create_offer_with_nested_items(sales, sales_user):
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    layout, emc = product("PCB layout"), product("EMC testing", topics=["emv"], price="300")
    body = {
        "title": "New board",
        "contact": contact.pk,
        "owner": sales_user.pk,
        "currency": "CHF",
        "items": [
            {"product": layout.pk, "quantity": 2, "unit_price": "12.50"},
            {"product": emc.pk, "quantity": 1},
        ],
    }
    response = sales.post(OFFERS, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) == OFFER_FIELDS
    assert set(data["items"][0]) == ITEM_FIELDS
    assert (data["status"], data["contact"], data["company"], data["owner"], data["currency"]) == (
        "draft",
        contact.pk,
        company.pk,
        sales_user.pk,
        "CHF",
    )
    assert data["items"] == [
        {
            "product": layout.pk,
            "product_name": "PCB layout",
            "quantity": 2,
            "unit_price": "12.50",
            "amount": "25.00",
        },
        {
            "product": emc.pk,
            "product_name": "EMC testing",
            "quantity": 1,
            "unit_price": "300.00",
            "amount": "300.00",
        },
    ]
    assert data["value"] == "325.00"
    assert (data["sent_at"], data["decided_at"], data["lost_reason"]) == (None, None, "")
    assert sales.get(f"{OFFERS}{data['id']}/").json() == data


def test_create_offer_with_another_company_or_none(sales):
    contact = ContactFactory(company=CompanyFactory())
    other = CompanyFactory()
    item = product()
    body = {"title": "T", "contact": contact.pk, "items": [{"product": item.pk, "quantity": 1}]}
    assert sales.post(OFFERS, {**body, "company": other.pk}, format="json").json()["company"] == other.pk
    assert sales.post(OFFERS, {**body, "company": None}, format="json").json()["company"] is None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"contact": None}, "contact"),
        ({"contact": "abc"}, "contact"),
        ({"contact": 424242}, "contact"),
        ({"contact": 99999999999999999999999}, "contact"),
        ({"owner": 424242}, "owner"),
        ({"company": 424242}, "company"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "eu1"}, "currency"),
        ({"items": []}, "items"),
        ({"items": None}, "items"),
        ({"items": "PCB"}, "items"),
        ({"items": [{"product": "PRODUCT"}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 0}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": -2}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 1.5}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 10**12}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 1, "unit_price": "-1"}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 1, "unit_price": "abc"}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 1, "unit_price": "1e30"}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 1, "unit_price": "NaN"}]}, "items"),
        ({"items": [{"product": 424242, "quantity": 1}]}, "items"),
        ({"items": [{"product": "abc", "quantity": 1}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 1}, {"product": "PRODUCT", "quantity": 2}]}, "items"),
        ({"items": [{"product": "INACTIVE", "quantity": 1}]}, "items"),
        ({"items": [{"product": "NO_PRICE", "quantity": 1}]}, "items"),
        ({"items": [{"product": "PRODUCT", "quantity": 1}] * 101}, "items"),
    ],
)
def test_bad_offer_input_is_400_naming_the_field_and_stores_nothing(sales, change, field):
    items = {
        "PRODUCT": product().pk,
        "INACTIVE": product("Old", active=False).pk,
        "NO_PRICE": services.product_save(name="Consulting", topics=[]).pk,
    }
    body = {
        "title": "T",
        "contact": ContactFactory().pk,
        "items": [{"product": items["PRODUCT"], "quantity": 1}],
    }
    body.update(change)
    if isinstance(body.get("items"), list):
        body["items"] = [
            {**line, "product": items.get(line.get("product"), line.get("product"))}
            if isinstance(line, dict)
            else line
            for line in body["items"]
        ]
    before = stored()
    response = sales.post(OFFERS, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert stored() == before


def test_items_errors_name_the_line(sales):
    item = product()
    body = {
        "title": "T",
        "contact": ContactFactory().pk,
        "items": [{"product": item.pk, "quantity": 1}, {"product": item.pk, "quantity": 0}],
    }
    errors = sales.post(OFFERS, body, format="json").json()["items"]
    assert errors[0] == {}
    assert "quantity" in errors[1]


def test_not_a_json_object_is_400(sales):
    assert sales.post(OFFERS, [1, 2], format="json").status_code == 400
    assert sales.post(OFFERS, "x", content_type="application/json").status_code == 400


def test_patch_offer_fields_and_lines(sales):
    made = offer()
    emc = product("EMC testing", topics=["emv"])
    path = f"{OFFERS}{made.pk}/"
    data = sales.patch(path, {"title": "Changed", "currency": "USD"}, format="json").json()
    assert (data["title"], data["currency"], len(data["items"])) == ("Changed", "USD", 1)
    data = sales.patch(
        path, {"items": [{"product": emc.pk, "quantity": 3, "unit_price": "10"}]}, format="json"
    ).json()
    assert [(i["product_name"], i["quantity"]) for i in data["items"]] == [("EMC testing", 3)]
    assert data["value"] == "30.00"
    assert sales.patch(path, {"contact": made.contact_id}, format="json").status_code == 200


def test_patch_refusals(sales):
    made = offer()
    path = f"{OFFERS}{made.pk}/"
    before = stored()
    assert "contact" in sales.patch(path, {"contact": ContactFactory().pk}, format="json").json()
    assert "items" in sales.patch(path, {"items": []}, format="json").json()
    assert stored()[:5] == before[:5]
    services.offer_win(offer=made)
    before = stored()
    response = sales.patch(path, {"title": "Changed"}, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert stored() == before


def test_status_is_read_only(sales):
    made = offer()
    data = sales.patch(f"{OFFERS}{made.pk}/", {"status": "won", "lost_reason": "x"}, format="json").json()
    assert (data["status"], data["lost_reason"]) == ("draft", "")
    assert not Ownership.objects.exists()


def test_delete_only_drafts(sales):
    draft = offer()
    assert sales.delete(f"{OFFERS}{draft.pk}/").status_code == 204
    sent = services.offer_send(offer=offer(title="Sent"))
    before = stored()
    response = sales.delete(f"{OFFERS}{sent.pk}/")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert stored() == before


def test_offer_list_filters(sales):
    rep = UserFactory(username="rep", roles=["sales"])
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    layout, emc = product("PCB layout"), product("EMC testing", topics=["emv"])
    mine = offer(contact, item=layout, owner=rep, title="Mine")
    other = services.offer_send(offer=offer(item=emc, title="Other"))

    def ids(**params):
        response = sales.get(OFFERS, params)
        assert response.status_code == 200, response.json()
        return [o["id"] for o in response.json()["results"]]

    assert ids() == [other.pk, mine.pk]
    assert ids(status="open") == [other.pk]
    assert ids(owner=rep.pk) == [mine.pk]
    assert ids(contact=contact.pk) == [mine.pk]
    assert ids(company=company.pk) == [mine.pk]
    assert ids(product=emc.pk) == [other.pk]
    assert ids(search="mine") == [mine.pk]
    # The list shows the whole value, whatever the product filter.
    assert sales.get(OFFERS, {"product": layout.pk}).json()["results"][0]["value"] == "1000.00"


@pytest.mark.parametrize(
    "params",
    [
        {"status": "maybe"},
        {"owner": "abc"},
        {"contact": "1.5"},
        {"product": "-1"},
        {"company": "x"},
        {"page": "x"},
    ],
)
def test_bad_filters_are_400(sales, params):
    response = sales.get(OFFERS, params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_pagination(sales):
    item = product()
    for n in range(3):
        offer(item=item, title=f"Offer {n}")
    data = sales.get(OFFERS, {"page_size": 2}).json()
    assert (data["count"], len(data["results"]), data["previous"]) == (3, 2, None)
    assert data["next"].endswith("page=2&page_size=2")


# token, roles, count, offers (value as a subquery), their lines with products
OFFER_LIST_QUERIES = 5


@pytest.mark.parametrize("n", [1, 12])
def test_offer_list_query_count_is_constant(sales, django_assert_num_queries, n):
    items = [product(f"Product {i}", topics=[]) for i in range(3)]
    for i in range(n):
        services.offer_create(
            contact=ContactFactory(company=CompanyFactory()),
            title=f"Offer {i}",
            items=[(item, 1, "1") for item in items],
        )
    sales.get(OFFERS)  # the first request records the token's use
    with django_assert_num_queries(OFFER_LIST_QUERIES):
        data = sales.get(OFFERS).json()
    assert len(data["results"]) == n
    assert all(len(o["items"]) == 3 for o in data["results"])


# --- Offers: send, win, lose ---------------------------------------------------------------------


def test_send_moves_a_lead_to_prospect(sales, sales_user):
    contact = ContactFactory(stage=stage("lead"))
    made = offer(contact)
    response = sales.post(f"{OFFERS}{made.pk}/send/", format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "open"
    assert data["sent_at"].endswith("Z")
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    move = contact.transitions.last()
    assert (move.by, move.reason) == (sales_user, "offer sent")
    # Again: nothing changes.
    assert sales.post(f"{OFFERS}{made.pk}/send/", format="json").json()["sent_at"] == data["sent_at"]
    assert contact.transitions.count() == 2


def test_win_makes_a_customer_and_records_ownership(sales):
    contact = ContactFactory(stage=stage("prospect"), company=CompanyFactory())
    made = offer(contact)
    at = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
    response = sales.post(f"{OFFERS}{made.pk}/win/", {"decided_at": at.isoformat()}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "won"
    contact.refresh_from_db()
    assert contact.stage.key == "customer"
    data = sales.get(OWNERSHIPS, {"contact": contact.pk}).json()["results"]
    assert len(data) == 1
    assert set(data[0]) == OWNERSHIP_FIELDS
    assert (data[0]["offer"], data[0]["company"], data[0]["product_name"]) == (
        made.pk,
        contact.company_id,
        "PCB layout",
    )
    assert data[0]["since"] == at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_win_without_body_is_now(sales):
    made = offer()
    assert sales.post(f"{OFFERS}{made.pk}/win/", format="json").status_code == 200
    assert Offer.objects.get().decided_at is not None


@pytest.mark.parametrize("body", [{"decided_at": "yesterday"}, {"decided_at": "2999-01-01T00:00:00Z"}])
def test_bad_win_is_400(sales, body):
    made = offer()
    before = stored()
    response = sales.post(f"{OFFERS}{made.pk}/win/", body, format="json")
    assert response.status_code == 400
    assert "decided_at" in response.json()
    assert stored() == before


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}, {"reason": "x" * 301}]
)
def test_lose_needs_a_reason(sales, body):
    made = offer()
    before = stored()
    response = sales.post(f"{OFFERS}{made.pk}/lose/", body, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()
    assert stored() == before


def test_lose(sales):
    made = services.offer_send(offer=offer())
    data = sales.post(f"{OFFERS}{made.pk}/lose/", {"reason": "Too expensive"}, format="json").json()
    assert (data["status"], data["lost_reason"]) == ("lost", "Too expensive")
    assert data["decided_at"].endswith("Z")


def test_state_guards(sales):
    won = offer(title="Won")
    services.offer_win(offer=won)
    lost = offer(title="Lost")
    services.offer_lose(offer=lost, reason="No")
    before = stored()
    assert sales.post(f"{OFFERS}{won.pk}/lose/", {"reason": "x"}, format="json").status_code == 400
    assert sales.post(f"{OFFERS}{won.pk}/send/", format="json").status_code == 400
    assert sales.post(f"{OFFERS}{lost.pk}/win/", format="json").status_code == 400
    assert sales.post(f"{OFFERS}{lost.pk}/send/", format="json").status_code == 400
    response = sales.post(f"{OFFERS}{lost.pk}/win/", format="json")
    assert "non_field_errors" in response.json()
    assert stored() == before
    # Idempotent repeats answer 200 without a change.
    assert sales.post(f"{OFFERS}{won.pk}/win/", format="json").status_code == 200
    assert (
        sales.post(f"{OFFERS}{lost.pk}/lose/", {"reason": "Other"}, format="json").json()["lost_reason"]
        == "No"
    )
    assert stored() == before


# --- Ownerships ----------------------------------------------------------------------------------


def test_record_list_and_delete_ownership(sales):
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    item = product()
    body = {"contact": contact.pk, "product": item.pk, "since": "2024-05-01T10:00:00+02:00"}
    response = sales.post(OWNERSHIPS, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["contact"], data["company"], data["product"], data["offer"]) == (
        contact.pk,
        company.pk,
        item.pk,
        None,
    )
    assert data["since"] == data["last_purchase_at"] == "2024-05-01T08:00:00Z"
    # Recorded again, earlier: the same record keeps the earliest date.
    again = sales.post(OWNERSHIPS, {**body, "since": "2023-01-01T00:00:00Z"}, format="json").json()
    assert (again["id"], again["since"], again["last_purchase_at"]) == (
        data["id"],
        "2023-01-01T00:00:00Z",
        "2024-05-01T08:00:00Z",
    )
    assert Ownership.objects.count() == 1
    other = ContactFactory()
    services.ownership_record(contact=other, product=item, since=timezone.now())
    ids = lambda **p: sorted(o["contact"] for o in sales.get(OWNERSHIPS, p).json()["results"])  # noqa: E731
    assert ids() == sorted([contact.pk, other.pk])
    assert ids(contact=contact.pk) == [contact.pk]
    assert ids(company=company.pk) == [contact.pk]
    assert ids(product=item.pk) == sorted([contact.pk, other.pk])
    assert sales.get(f"{OWNERSHIPS}{data['id']}/").status_code == 200
    assert sales.delete(f"{OWNERSHIPS}{data['id']}/").status_code == 204
    assert ids() == [other.pk]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"contact": None}, "contact"),
        ({"contact": 424242}, "contact"),
        ({"contact": "abc"}, "contact"),
        ({"product": 424242}, "product"),
        ({"product": None}, "product"),
        ({"since": "yesterday"}, "since"),
        ({"since": None}, "since"),
        ({"since": "2999-01-01T00:00:00Z"}, "since"),
    ],
)
def test_bad_ownership_input_is_400(sales, change, field):
    body = {
        "contact": ContactFactory().pk,
        "product": product().pk,
        "since": "2024-01-01T00:00:00Z",
        **change,
    }
    before = stored()
    response = sales.post(OWNERSHIPS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert stored() == before


@pytest.mark.parametrize("params", [{"contact": "x"}, {"company": "-1"}, {"product": "1.5"}])
def test_bad_ownership_filters_are_400(sales, params):
    assert sales.get(OWNERSHIPS, params).status_code == 400


@pytest.mark.parametrize("n", [1, 10])
def test_ownership_list_query_count_is_constant(sales, django_assert_num_queries, n):
    item = product()
    for _ in range(n):
        services.ownership_record(
            contact=ContactFactory(company=CompanyFactory()), product=item, since=timezone.now()
        )
    sales.get(OWNERSHIPS)  # the first request records the token's use
    with django_assert_num_queries(4):  # token, roles, count, ownerships with product joined
        assert len(sales.get(OWNERSHIPS).json()["results"]) == n


def test_schema_documents_the_endpoints():
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in (
        "/api/v1/products/{id}/:",
        "/api/v1/offers/{id}/send/:",
        "/api/v1/offers/{id}/win/:",
        "/api/v1/offers/{id}/lose/:",
        "/api/v1/ownerships/:",
    ):
        assert path in schema
    assert "OfferLoseRequest" in schema


def test_an_offer_of_a_deleted_contact_stays_readable(sales):
    contact = ContactFactory(stage=stage("prospect"))
    made = offer(contact)
    services.offer_win(offer=made)
    assert sales.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204
    data = sales.get(f"{OFFERS}{made.pk}/").json()
    assert (data["contact"], data["status"]) == (None, "won")
    assert sales.patch(f"{OFFERS}{made.pk}/", {"contact": None}, format="json").status_code == 400
