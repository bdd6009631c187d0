"""Browser UI of offers: the offer list (filters, value, status, pagination), the offer form with its
lines, an offer's page with send / win / lose, the product catalogue, and the "Products owned and
offers" sections of the contact and company pages. Writes go through offers.services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from offers import services
from offers.models import Offer, OfferItem, Ownership, Product, ProductTopic
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
LIST_URL = reverse("offers:offer-list")
CREATE_URL = reverse("offers:offer-create")
PRODUCTS_URL = reverse("offers:product-list")


# --- Helpers -------------------------------------------------------------------------------------


def make_product(name="PCB layout", *, topics=("pcb-design",), price="1000.00", **fields) -> Product:
    return services.product_save(name=name, topics=list(topics), price=Decimal(price), **fields)


def make_offer(contact=None, *, product=None, title="New board", quantity=2, price="500", **fields) -> Offer:
    contact = contact or ContactFactory(stage=stage("lead"))
    product = product or Product.objects.filter(name="PCB layout").first() or make_product()
    return services.offer_create(
        contact=contact, title=title, items=[(product, quantity, Decimal(price))], **fields
    )


def url(name, obj) -> str:
    return reverse(f"offers:{name}", args=[obj.pk])


def html(response) -> str:
    return response.content.decode()


def lines(*rows, total=None, initial=0) -> dict:
    """Formset data for the offer form's lines: rows of (product id, quantity, unit price[, delete])."""
    data = {
        "items-TOTAL_FORMS": str(total if total is not None else len(rows)),
        "items-INITIAL_FORMS": str(initial),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "100",
    }
    for n, row in enumerate(rows):
        product, quantity, price, *delete = row
        data[f"items-{n}-product"] = str(product)
        data[f"items-{n}-quantity"] = str(quantity)
        data[f"items-{n}-unit_price"] = str(price)
        if delete:
            data[f"items-{n}-DELETE"] = "on"
    return data


def offer_data(person, *rows, **fields) -> dict:
    return {
        "title": "Layout and prototypes",
        "contact": f"#{person.pk}",
        "owner": "",
        "currency": "EUR",
        **lines(*rows),
        **fields,
    }


# --- Access --------------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    contact = ContactFactory(stage=stage("lead"), company=CompanyFactory())
    product = make_product()
    offer = make_offer(contact, product=product)
    ownership = services.ownership_record(contact=contact, product=product, since=timezone.now())
    return {"contact": contact, "product": product, "offer": offer, "ownership": ownership}


def read_urls(world) -> list[str]:
    return [
        LIST_URL,
        url("offer-detail", world["offer"]),
        PRODUCTS_URL,
        url("contact-section", world["contact"]),
        url("company-section", world["contact"].company),
        reverse("offers:contact-options") + "?q=Vor",
    ]


def work_gets(world) -> list[str]:
    return [CREATE_URL, url("offer-edit", world["offer"]), url("offer-delete", world["offer"])]


def work_posts(world) -> list[str]:
    return [
        CREATE_URL,
        url("offer-edit", world["offer"]),
        url("offer-send", world["offer"]),
        url("offer-win", world["offer"]),
        url("offer-lose", world["offer"]),
        url("offer-delete", world["offer"]),
        url("ownership-record", world["contact"]),
        url("ownership-delete", world["ownership"]),
    ]


def catalog_urls(world) -> list[str]:
    return [
        reverse("offers:product-create"),
        url("product-edit", world["product"]),
        url("product-delete", world["product"]),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    for target in read_urls(world) + work_gets(world) + catalog_urls(world):
        response = client.get(target)
        assert response.status_code == 302, target
        assert response["Location"].startswith(reverse("login")), target
    for target in work_posts(world) + catalog_urls(world):
        assert client.post(target).status_code == 302, target
    assert Offer.objects.get().status == "draft"


def test_outsiders_get_403_everywhere(client_for, outsider, world):
    client = client_for(outsider)
    for target in read_urls(world) + work_gets(world) + catalog_urls(world):
        assert client.get(target).status_code == 403, target
    for target in work_posts(world) + catalog_urls(world):
        assert client.post(target, {"lose-reason": "x"}).status_code == 403, target
    assert Offer.objects.get().status == "draft"
    assert Ownership.objects.count() == 1


@pytest.mark.parametrize("role", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_reads_and_works_with_offers(client_for, request, world, role):
    client = client_for(request.getfixturevalue(role))
    for target in read_urls(world) + work_gets(world):
        assert client.get(target).status_code == 200, target
    response = client.post(url("offer-send", world["offer"]))
    assert response.status_code == 302
    assert Offer.objects.get().status == "open"


def test_sales_may_not_edit_the_catalogue(client_for, sales_user, world):
    client = client_for(sales_user)
    for target in catalog_urls(world):
        assert client.get(target).status_code == 403, target
        assert client.post(target, {"name": "Changed"}).status_code == 403, target
    assert Product.objects.get().name == "PCB layout"
    page = html(client.get(PRODUCTS_URL))
    assert reverse("offers:product-create") not in page
    assert url("product-edit", world["product"]) not in page


@pytest.mark.parametrize("role", ["marketing_user", "admin_user"])
def test_marketing_and_admin_edit_the_catalogue(client_for, request, world, role):
    client = client_for(request.getfixturevalue(role))
    for target in catalog_urls(world):
        assert client.get(target).status_code == 200, target
    page = html(client.get(PRODUCTS_URL))
    assert url("product-edit", world["product"]) in page


@pytest.mark.parametrize(
    "target",
    [
        "/offers/abc/",
        "/offers/1.5/edit/",
        "/offers/99999999999999999999999/",
        "/offers/424242/",
        "/offers/424242/send/",
        "/offers/products/abc/",
        "/offers/products/424242/delete/",
        "/offers/contacts/abc/",
        "/offers/contacts/424242/",
        "/offers/companies/424242/",
        "/offers/ownerships/x/delete/",
    ],
)
def test_bad_ids_are_404(client_for, marketing_user, target):
    client = client_for(marketing_user)
    assert client.get(target).status_code in (404, 405), target
    if target.endswith(("send/", "delete/")):
        assert client.post(target).status_code == 404, target


def test_nav_link(client_for, sales_user):
    page = html(client_for(sales_user).get(reverse("funnel:contact-list")))
    assert f'href="{LIST_URL}"' in page


# --- Offer list ----------------------------------------------------------------------------------


def test_empty_list(client_for, sales_user):
    page = html(client_for(sales_user).get(LIST_URL))
    assert "No offers yet." in page
    assert CREATE_URL in page


def test_list_shows_value_status_and_links(client_for, sales_user):
    contact = ContactFactory(company=CompanyFactory(name="Bodensee Sensorik GmbH"))
    offer = make_offer(contact, quantity=3, price="1200.50", title="Sensor board")
    services.offer_send(offer=offer)
    page = html(client_for(sales_user).get(LIST_URL))
    assert "Sensor board" in page
    assert "3,601.50 EUR" in page
    assert 'class="badge badge-blue">Sent, open<' in page
    assert "Bodensee Sensorik GmbH" in page
    assert url("offer-detail", offer) in page
    assert reverse("funnel:contact-detail", args=[contact.pk]) in page


def test_list_filters(client_for, sales_user):
    rep = UserFactory(username="rep", roles=["sales"])
    layout, emc = make_product("PCB layout"), make_product("EMC testing", topics=["emv"])
    contact = ContactFactory()
    mine = make_offer(contact, product=layout, owner=rep, title="Mine")
    other = make_offer(product=emc, title="Other")
    services.offer_send(offer=other)
    client = client_for(sales_user)

    def titles(**params):
        return [o.title for o in client.get(LIST_URL, params).context["page"].items]

    assert titles() == ["Other", "Mine"]
    assert titles(status="open") == ["Other"]
    assert titles(owner=rep.pk) == ["Mine"]
    assert titles(product=emc.pk) == ["Other"]
    assert titles(contact=contact.pk) == ["Mine"]
    assert titles(search="min") == ["Mine"]
    assert "No offers match these filters." in html(client.get(LIST_URL, {"status": "won"}))
    assert mine.pk != other.pk


@pytest.mark.parametrize(
    "params",
    [
        {"owner": "abc"},
        {"product": "99999999999999999999999"},
        {"contact": "-1"},
        {"status": "nonsense"},
        {"page": "x"},
        {"company": "1.5"},
    ],
)
def test_bad_filters_are_ignored_not_500(client_for, sales_user, params):
    make_offer()
    response = client_for(sales_user).get(LIST_URL, params)
    assert response.status_code == 200
    assert len(response.context["page"].items) == 1


def test_htmx_gets_only_the_results(client_for, sales_user):
    make_offer()
    response = client_for(sales_user).get(LIST_URL, {"status": "draft"}, **HTMX)
    page = html(response)
    assert page.startswith('<section id="offer-results"')
    assert "<html" not in page
    assert "HX-Request" in response["Vary"]


def test_list_pages(client_for, sales_user):
    product = make_product()
    for n in range(55):
        make_offer(product=product, title=f"Offer {n}")
    client = client_for(sales_user)
    first = client.get(LIST_URL)
    assert len(first.context["page"].items) == 50
    assert "1–50 of 55 offers" in html(first)
    second = client.get(LIST_URL, {"page": 2})
    assert len(second.context["page"].items) == 5
    assert "This page is past the end" in html(client.get(LIST_URL, {"page": 9}))


# session, user, roles, the owners and products of the filter, the page of offers (value in it)
LIST_QUERIES = 6


@pytest.mark.parametrize("n", [1, 12])
def test_list_query_count_is_constant(client_for, sales_user, django_assert_num_queries, n):
    product = make_product()
    for i in range(n):
        offer = make_offer(product=product, title=f"Offer {i}", owner=sales_user)
        services.offer_send(offer=offer)
    client = client_for(sales_user)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST_URL)
    assert len(response.context["page"].items) == n


def test_titles_and_names_are_escaped(client_for, sales_user):
    contact = ContactFactory(first_name=XSS, company=CompanyFactory(name=XSS))
    product = make_product(XSS, topics=["x"])
    offer = make_offer(contact, product=product, title=XSS)
    services.offer_lose(offer=offer, reason=XSS)
    client = client_for(sales_user)
    for target in (LIST_URL, url("offer-detail", offer), PRODUCTS_URL, url("contact-section", contact)):
        page = html(client.get(target))
        assert XSS not in page, target
        assert ESCAPED in page, target


# --- Creating and editing offers -----------------------------------------------------------------


def test_new_offer_form_prefills_the_contact(client_for, sales_user):
    contact = ContactFactory(first_name="Anna", last_name="Schmidt", email="anna@example.com")
    page = html(client_for(sales_user).get(CREATE_URL, {"contact": contact.pk}))
    assert f"Anna Schmidt &lt;anna@example.com&gt; (#{contact.pk})" in page
    assert 'name="items-TOTAL_FORMS"' in page
    assert client_for(sales_user).get(CREATE_URL, {"contact": "abc"}).status_code == 200


def test_create_offer(client_for, sales_user):
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    layout, emc = make_product("PCB layout"), make_product("EMC testing", topics=["emv"], price="300")
    data = offer_data(contact, (layout.pk, 2, "999.99"), (emc.pk, 1, ""), ("", "", ""), owner=sales_user.pk)
    response = client_for(sales_user).post(CREATE_URL, data)
    offer = Offer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("offer-detail", offer)
    assert (offer.title, offer.contact, offer.company, offer.owner, offer.status) == (
        "Layout and prototypes",
        contact,
        company,
        sales_user,
        "draft",
    )
    assert list(offer.items.values_list("product__name", "quantity", "unit_price")) == [
        ("PCB layout", 2, Decimal("999.99")),
        ("EMC testing", 1, Decimal("300.00")),
    ]


@pytest.mark.parametrize(
    "row, message",
    [
        (("PRODUCT", -1, "10"), "greater than or equal to 1"),
        (("PRODUCT", 0, "10"), "greater than or equal to 1"),
        (("PRODUCT", "two", "10"), "Enter a whole number."),
        (("PRODUCT", 1, "-5"), "greater than or equal to 0"),
        (("PRODUCT", 1, "12.345"), "no more than 2 decimal places"),
        (("PRODUCT", 1, "ten"), "Enter a number."),
        (("424242", 1, "10"), "Select a valid choice."),
        (("abc", 1, "10"), "Select a valid choice."),
        (("", 3, "10"), "Choose a product for this line"),
        (("PRODUCT", "", "10"), "Enter the quantity."),
    ],
)
def test_bad_lines_are_shown_and_nothing_is_stored(client_for, sales_user, row, message):
    product = make_product()
    contact = ContactFactory()
    row = tuple(product.pk if value == "PRODUCT" else value for value in row)
    response = client_for(sales_user).post(CREATE_URL, offer_data(contact, row))
    assert response.status_code == 400
    assert message in html(response)
    assert not Offer.objects.exists()
    assert not OfferItem.objects.exists()


def test_an_offer_needs_a_line(client_for, sales_user):
    response = client_for(sales_user).post(CREATE_URL, offer_data(ContactFactory(), ("", "", "")))
    assert response.status_code == 400
    assert "Add at least one product." in html(response)
    assert not Offer.objects.exists()


def test_each_product_once(client_for, sales_user):
    product = make_product()
    response = client_for(sales_user).post(
        CREATE_URL, offer_data(ContactFactory(), (product.pk, 1, "1"), (product.pk, 2, "1"))
    )
    assert response.status_code == 400
    assert "is on the offer already" in html(response)
    assert not Offer.objects.exists()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"contact": ""}, "This field is required."),
        ({"contact": "#424242"}, "There is no contact #424242."),
        ({"contact": "nobody at all"}, "No contact matches"),
        ({"title": ""}, "This field is required."),
        ({"currency": "EURO"}, "at most 3 characters"),
        ({"currency": "E1X"}, "three-letter currency code"),
        ({"owner": "abc"}, "Select a valid choice."),
    ],
)
def test_bad_offer_fields(client_for, sales_user, fields, message):
    product = make_product()
    response = client_for(sales_user).post(
        CREATE_URL, offer_data(ContactFactory(), (product.pk, 1, "1"), **fields)
    )
    assert response.status_code == 400
    assert message in html(response)
    assert not Offer.objects.exists()


@pytest.mark.parametrize(
    "management",
    [
        {"items-TOTAL_FORMS": "abc"},
        {"items-TOTAL_FORMS": "100000"},
        {"items-TOTAL_FORMS": ""},
    ],
)
def test_tampered_line_forms_are_400_not_500(client_for, sales_user, management):
    product = make_product()
    data = {**offer_data(ContactFactory(), (product.pk, 1, "1")), **management}
    response = client_for(sales_user).post(CREATE_URL, data)
    assert response.status_code == 400
    assert not Offer.objects.exists()


def test_missing_line_forms_are_400_not_500(client_for, sales_user):
    data = {"title": "T", "contact": f"#{ContactFactory().pk}", "currency": "EUR"}
    response = client_for(sales_user).post(CREATE_URL, data)
    assert response.status_code == 400
    assert not Offer.objects.exists()


def test_add_line_shows_one_more_row_without_errors_and_stores_nothing(client_for, sales_user):
    product = make_product()
    data = {**offer_data(ContactFactory(), (product.pk, -1, "1")), "add_line": "1"}
    client = client_for(sales_user)
    response = client.post(CREATE_URL, data)
    assert response.status_code == 200
    assert response.context["formset"].total_form_count() == 2
    assert "greater than or equal to 1" not in html(response)
    assert not Offer.objects.exists()

    fragment = client.post(CREATE_URL, data, **HTMX)
    assert html(fragment).startswith('<form id="offer-form"')


def test_removed_lines_are_dropped(client_for, sales_user):
    layout, emc = make_product("PCB layout"), make_product("EMC testing", topics=["emv"])
    data = offer_data(ContactFactory(), (layout.pk, 1, "1"), (emc.pk, 1, "1", "delete"))
    assert client_for(sales_user).post(CREATE_URL, data).status_code == 302
    assert list(Offer.objects.get().items.values_list("product__name", flat=True)) == ["PCB layout"]


def test_edit_offer_replaces_lines(client_for, sales_user):
    offer = make_offer()
    emc = make_product("EMC testing", topics=["emv"])
    client = client_for(sales_user)
    page = html(client.get(url("offer-edit", offer)))
    assert 'name="items-0-quantity" value="2"' in page
    data = {"title": "Changed", "owner": "", "currency": "CHF", **lines((emc.pk, 4, "25"))}
    response = client.post(url("offer-edit", offer), data)
    assert response.status_code == 302
    offer.refresh_from_db()
    assert (offer.title, offer.currency) == ("Changed", "CHF")
    assert list(offer.items.values_list("product__name", "quantity")) == [("EMC testing", 4)]


def test_edit_refused_input_changes_nothing(client_for, sales_user):
    offer = make_offer()
    data = {"title": "Changed", "owner": "", "currency": "EUR", **lines(("", "", ""))}
    response = client_for(sales_user).post(url("offer-edit", offer), data)
    assert response.status_code == 400
    offer.refresh_from_db()
    assert offer.title == "New board"
    assert offer.items.count() == 1


def test_decided_offers_cannot_be_edited(client_for, sales_user):
    offer = make_offer()
    services.offer_win(offer=offer)
    client = client_for(sales_user)
    response = client.post(url("offer-edit", offer), {"title": "Changed", **lines()})
    assert response.status_code == 302
    assert Offer.objects.get().title == "New board"
    page = html(client.get(url("offer-detail", offer)))
    assert url("offer-edit", offer) not in page


def test_delete_a_draft_after_confirmation(client_for, sales_user):
    offer = make_offer()
    client = client_for(sales_user)
    assert "Delete the draft" in html(client.get(url("offer-delete", offer)))
    response = client.post(url("offer-delete", offer))
    assert response.status_code == 302
    assert not Offer.objects.exists()


def test_a_sent_offer_cannot_be_deleted(client_for, sales_user):
    offer = services.offer_send(offer=make_offer())
    response = client_for(sales_user).post(url("offer-delete", offer))
    assert response.status_code == 400
    assert "Only drafts can be deleted" in html(response)
    assert Offer.objects.exists()


# --- Send, win, lose -----------------------------------------------------------------------------


def test_detail_shows_lines_total_and_actions(client_for, sales_user):
    offer = make_offer(quantity=3, price="100")
    page = html(client_for(sales_user).get(url("offer-detail", offer)))
    assert "300.00 EUR" in page
    assert url("offer-send", offer) in page
    assert url("offer-win", offer) in page
    assert url("offer-lose", offer) in page


def test_send_moves_a_lead_to_prospect(client_for, sales_user):
    contact = ContactFactory(stage=stage("lead"))
    offer = make_offer(contact)
    response = client_for(sales_user).post(url("offer-send", offer))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    assert contact.transitions.last().by == sales_user


def test_send_with_htmx_answers_with_the_offer(client_for, sales_user):
    offer = make_offer()
    response = client_for(sales_user).post(url("offer-send", offer), **HTMX)
    page = html(response)
    assert page.startswith('<div id="offer-main"')
    assert "Offer marked as sent." in page
    assert Offer.objects.get().status == "open"


def test_win_makes_a_customer_who_owns_the_products(client_for, sales_user):
    contact = ContactFactory(stage=stage("prospect"))
    offer = make_offer(contact)
    day = timezone.localdate() - timedelta(days=3)
    response = client_for(sales_user).post(url("offer-win", offer), {"win-decided_on": day.isoformat()})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.status == "won"
    assert timezone.localdate(offer.decided_at) == day
    contact.refresh_from_db()
    assert contact.stage.key == "customer"
    ownership = Ownership.objects.get()
    assert (ownership.contact, ownership.offer) == (contact, offer)


def test_win_in_the_future_is_refused(client_for, sales_user):
    offer = make_offer()
    future = (timezone.localdate() + timedelta(days=2)).isoformat()
    client = client_for(sales_user)
    response = client.post(url("offer-win", offer), {"win-decided_on": future})
    assert response.status_code == 400
    assert "cannot be dated in the future" in html(response)
    response = client.post(url("offer-win", offer), {"win-decided_on": "not a date"}, **HTMX)
    assert response.status_code == 200
    assert "Enter a valid date." in html(response)
    assert Offer.objects.get().status == "draft"
    assert not Ownership.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_lose_needs_a_reason(client_for, sales_user, reason):
    offer = make_offer()
    client = client_for(sales_user)
    response = client.post(url("offer-lose", offer), {"lose-reason": reason})
    assert response.status_code == 400
    assert "This field is required." in html(response)
    response = client.post(url("offer-lose", offer), {"lose-reason": reason}, **HTMX)
    assert response.status_code == 200
    assert html(response).startswith('<div id="offer-main"')
    assert "This field is required." in html(response)
    assert Offer.objects.get().status == "draft"


def test_lose_with_reason(client_for, sales_user):
    offer = make_offer()
    response = client_for(sales_user).post(url("offer-lose", offer), {"lose-reason": "Too expensive"})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert (offer.status, offer.lost_reason) == ("lost", "Too expensive")


def test_a_won_offer_cannot_be_lost(client_for, sales_user):
    offer = make_offer()
    services.offer_win(offer=offer)
    client = client_for(sales_user)
    response = client.post(url("offer-lose", offer), {"lose-reason": "Changed their mind"})
    assert response.status_code == 400
    assert "This offer was won" in html(response)
    response = client.post(url("offer-lose", offer), {"lose-reason": "Changed their mind"}, **HTMX)
    assert "This offer was won" in html(response)
    assert Offer.objects.get().status == "won"


def test_a_lost_offer_cannot_be_sent(client_for, sales_user):
    offer = make_offer()
    services.offer_lose(offer=offer, reason="No")
    response = client_for(sales_user).post(url("offer-send", offer), follow=True)
    assert "This offer was lost" in html(response)
    assert Offer.objects.get().status == "lost"


def test_actions_need_post(client_for, sales_user):
    offer = make_offer()
    client = client_for(sales_user)
    for name in ("offer-send", "offer-win", "offer-lose"):
        assert client.get(url(name, offer)).status_code == 405


# --- Contact and company sections ----------------------------------------------------------------


def test_contact_and_company_pages_load_the_section(client_for, sales_user):
    contact = ContactFactory(company=CompanyFactory())
    client = client_for(sales_user)
    page = html(client.get(reverse("funnel:contact-detail", args=[contact.pk])))
    assert url("contact-section", contact) in page
    page = html(client.get(reverse("funnel:company-detail", args=[contact.company.pk])))
    assert url("company-section", contact.company) in page


def test_contact_section_lists_owned_products_and_offers(client_for, sales_user):
    contact = ContactFactory(stage=stage("prospect"))
    offer = make_offer(contact, title="Won board")
    services.offer_win(offer=offer)
    make_offer(contact, product=make_product("EMC testing", topics=["emv"]), title="Still open")
    client = client_for(sales_user)
    fragment = html(client.get(url("contact-section", contact), **HTMX))
    assert fragment.startswith('<section id="contact-offers"')
    assert "PCB layout" in fragment
    assert "Won board" in fragment
    assert "Still open" in fragment
    assert f"{CREATE_URL}?contact={contact.pk}" in fragment
    page = html(client.get(url("contact-section", contact)))
    assert "<html" in page


@pytest.mark.parametrize("n", [1, 10])
def test_contact_section_query_count_is_constant(client_for, sales_user, django_assert_num_queries, n):
    contact = ContactFactory(stage=stage("customer"))
    for i in range(n):
        product = make_product(f"Product {i}", topics=[f"topic-{i}"])
        services.offer_win(offer=make_offer(contact, product=product, title=f"Offer {i}"))
    client = client_for(sales_user)
    # session, user, roles, contact, ownerships, offers, the products of the record form
    with django_assert_num_queries(7):
        client.get(url("contact-section", contact), **HTMX)


def test_record_and_delete_ownership(client_for, sales_user):
    contact = ContactFactory()
    product = make_product()
    client = client_for(sales_user)
    since = (timezone.localdate() - timedelta(days=100)).isoformat()
    response = client.post(
        url("ownership-record", contact), {"own-product": product.pk, "own-since": since}, **HTMX
    )
    assert response.status_code == 200
    assert "Recorded: owns “PCB layout”." in html(response)
    ownership = Ownership.objects.get()
    assert ownership.contact == contact
    response = client.post(url("ownership-delete", ownership), **HTMX)
    assert "deleted" in html(response)
    assert not Ownership.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"own-product": "424242", "own-since": "2024-01-01"}, "Select a valid choice."),
        ({"own-product": "abc", "own-since": "2024-01-01"}, "Select a valid choice."),
        ({"own-product": "PRODUCT", "own-since": "2999-01-01"}, "cannot be in the future"),
        ({"own-product": "PRODUCT", "own-since": "yesterday"}, "Enter a valid date."),
        ({"own-product": "PRODUCT"}, "This field is required."),
    ],
)
def test_bad_ownership_input(client_for, sales_user, data, message):
    product = make_product()
    contact = ContactFactory()
    data = {key: str(product.pk) if value == "PRODUCT" else value for key, value in data.items()}
    response = client_for(sales_user).post(url("ownership-record", contact), data)
    assert response.status_code == 400
    assert message in html(response)
    assert not Ownership.objects.exists()


def test_company_section(client_for, sales_user):
    company = CompanyFactory()
    anna = ContactFactory(company=company, first_name="Anna", last_name="Berg", stage=stage("prospect"))
    services.offer_win(offer=make_offer(anna, title="Anna's board"))
    fragment = html(client_for(sales_user).get(url("company-section", company), **HTMX))
    assert fragment.startswith('<section id="company-offers"')
    assert "Anna Berg" in fragment
    assert "Anna&#x27;s board" in fragment


# --- Product catalogue ---------------------------------------------------------------------------


def test_create_product_with_comma_separated_topics(client_for, marketing_user):
    data = {
        "name": "EMC testing",
        "sku": "EMC-1",
        "family": "EMC",
        "price": "3200.00",
        "topics": "EMV, PCB Design; emv\nbga",
        "description": "",
        "active": "on",
    }
    response = client_for(marketing_user).post(reverse("offers:product-create"), data)
    assert response.status_code == 302
    product = Product.objects.get()
    assert (product.name, product.price, product.active, product.repeatable) == (
        "EMC testing",
        Decimal("3200.00"),
        True,
        False,
    )
    assert sorted(product.topics.values_list("topic", flat=True)) == ["bga", "emv", "pcb-design"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"name": ""}, "This field is required."),
        ({"name": "pcb LAYOUT"}, "A product with this name already exists."),
        ({"price": "-1"}, "greater than or equal to 0"),
        ({"price": "abc"}, "Enter a number."),
        ({"topics": "!!!"}, "is not a topic"),
    ],
)
def test_bad_product_input(client_for, marketing_user, fields, message):
    make_product("PCB layout")
    data = {"name": "New", "price": "1", "topics": "x", "active": "on", **fields}
    response = client_for(marketing_user).post(reverse("offers:product-create"), data)
    assert response.status_code == 400
    assert message in html(response)
    assert Product.objects.count() == 1


def test_edit_product(client_for, marketing_user):
    product = make_product(topics=["pcb-design", "bga"])
    client = client_for(marketing_user)
    assert 'value="bga, pcb-design"' in html(client.get(url("product-edit", product)))
    data = {"name": "PCB layout", "price": "", "topics": "bga", "description": "New text"}
    assert client.post(url("product-edit", product), data).status_code == 302
    product.refresh_from_db()
    assert (product.price, product.active, product.description) == (None, False, "New text")
    assert list(product.topics.values_list("topic", flat=True)) == ["bga"]


def test_delete_an_unused_product(client_for, marketing_user):
    product = make_product()
    client = client_for(marketing_user)
    response = client.post(url("product-delete", product), **HTMX)
    assert "Product “PCB layout” deleted." in html(response)
    assert not Product.objects.exists()
    assert not ProductTopic.objects.exists()


def test_a_used_product_cannot_be_deleted(client_for, marketing_user):
    offer = make_offer()
    product = offer.items.get().product
    client = client_for(marketing_user)
    response = client.post(url("product-delete", product))
    assert response.status_code == 400
    assert "cannot be deleted" in html(response)
    response = client.post(url("product-delete", product), **HTMX)
    assert html(response).startswith(f'<tr id="product-{product.pk}"')
    assert "Mark it inactive instead" in html(response)
    assert Product.objects.exists()


def test_product_list_shows_topics_usage_and_state(client_for, sales_user):
    product = make_product(topics=["pcb-design", "bga"], repeatable=True)
    services.offer_win(offer=make_offer(product=product))
    make_product("Old", topics=[], active=False)
    page = html(client_for(sales_user).get(PRODUCTS_URL))
    assert "pcb-design" in page and "bga" in page
    assert f"{LIST_URL}?product={product.pk}" in page
    assert "inactive" in page


@pytest.mark.parametrize("n", [1, 10])
def test_product_list_query_count_is_constant(client_for, sales_user, django_assert_num_queries, n):
    for i in range(n):
        make_product(f"Product {i}", topics=[f"t{i}", "shared"])
    client = client_for(sales_user)
    with django_assert_num_queries(5):  # session, user, roles, products (with usage), topics
        client.get(PRODUCTS_URL)


def test_offer_form_offers_only_active_products(client_for, sales_user):
    make_product("Current")
    make_product("Discontinued", active=False)
    page = html(client_for(sales_user).get(CREATE_URL))
    assert "Current" in page
    assert "Discontinued" not in page


def test_offer_pages_in_german(client_for, sales_user):
    make_offer(title="Platine")
    client = client_for(sales_user)
    page = html(client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="de"))
    for word in ("Angebote", "Neues Angebot", "1–1 von 1 Angebot", "Entwurf", "Produkte"):
        assert word in page, word
    page = html(client.get(url("offer-detail", Offer.objects.get()), HTTP_ACCEPT_LANGUAGE="de"))
    for word in ("Als gesendet markieren", "Gewonnen: Auftrag erhalten", "Positionen", "Stückpreis"):
        assert word in page, word
