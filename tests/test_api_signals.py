"""The R/U/C detector over the API: /api/v1/signals/ (list, one, accept, dismiss) and
/api/v1/signals/precision/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Signal
from nurturing import services as nurturing
from nurturing.models import Enrollment
from offers.models import Offer, Product, ProductTopic
from sales.models import Task
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

LIST = "/api/v1/signals/"
PRECISION = "/api/v1/signals/precision/"
FIELDS = {
    "id",
    "contact",
    "company",
    "product",
    "kind",
    "status",
    "topic",
    "weight",
    "events",
    "owner",
    "dismiss_reason",
    "decided_at",
    "decided_by",
    "task",
    "offer",
    "enrollment",
    "created_at",
}


def product(name, topics=("emc",), **fields) -> Product:
    item = Product.objects.create(name=name, **fields)
    for topic in topics:
        ProductTopic.objects.create(product=item, topic=topic)
    return item


def make_signal(owner, *, kind="cross", status="open", item=None, contact=None, **fields) -> Signal:
    contact = contact or ContactFactory(stage=stage("customer"), owner=owner, company=CompanyFactory())
    decided = status != "open"
    return Signal.objects.create(
        contact=contact,
        company=contact.company,
        product=item or product(f"Product {Product.objects.count() + 1}", price="99.50"),
        kind=kind,
        status=status,
        topic=fields.pop("topic", "emc"),
        weight=3.5,
        event_ids=fields.pop("event_ids", [7, 5]),
        owner=owner,
        created_at=fields.pop("created_at", timezone.now()),
        decided_at=timezone.now() if decided else None,
        decided_by=owner if decided else None,
        **fields,
    )


def active_sequence(name="Cross-sell EMC"):
    sequence = nurturing.sequence_save(name=name)
    nurturing.step_save(sequence=sequence, kind="wait", wait=timedelta(days=3))
    return nurturing.sequence_activate(sequence=sequence)


def stored():
    """Everything a refused request must leave as it was."""
    return (
        list(Signal.objects.order_by("pk").values()),
        Task.objects.count(),
        Offer.objects.count(),
        Enrollment.objects.count(),
    )


@pytest.fixture
def rep(db):
    return UserFactory(username="rep", roles=["sales"])


@pytest.fixture
def api(api_client_for, rep):
    return api_client_for(rep)


@pytest.fixture
def signal(rep):
    return make_signal(rep)


def accept_url(signal) -> str:
    return f"{LIST}{signal.pk}/accept/"


def dismiss_url(signal) -> str:
    return f"{LIST}{signal.pk}/dismiss/"


# --- Reading -------------------------------------------------------------------------------------


def test_a_signal_with_its_fields(api, rep, signal):
    data = api.get(f"{LIST}{signal.pk}/").json()
    assert set(data) == FIELDS
    assert data["id"] == signal.pk
    assert (data["contact"], data["company"], data["product"]) == (
        signal.contact_id,
        signal.company_id,
        signal.product_id,
    )
    assert (data["kind"], data["status"], data["topic"], data["weight"]) == ("cross", "open", "emc", 3.5)
    assert (data["events"], data["owner"], data["dismiss_reason"]) == ([7, 5], rep.pk, "")
    assert data["decided_at"] is None and data["decided_by"] is None
    assert (data["task"], data["offer"], data["enrollment"]) == (None, None, None)
    assert data["created_at"].endswith("Z")


def test_the_list_is_paginated_newest_first(api, rep):
    now = timezone.now()
    old = make_signal(rep, created_at=now - timedelta(days=2))
    new = make_signal(rep, created_at=now)
    body = api.get(LIST).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2 and [s["id"] for s in body["results"]] == [new.pk, old.pk]
    body = api.get(LIST + "?page_size=1&page=2").json()
    assert [s["id"] for s in body["results"]] == [old.pk] and body["previous"]
    assert api.get(LIST + "?page_size=501").status_code == 400


def test_filters(api, rep):
    other = UserFactory(username="other", roles=["sales"])
    a = make_signal(rep, kind="cross")
    b = make_signal(other, kind="up")
    c = make_signal(other, kind="repeat", status="dismissed", dismiss_reason="No")

    def ids(query):
        response = api.get(f"{LIST}?{query}")
        assert response.status_code == 200, response.json()
        return {s["id"] for s in response.json()["results"]}

    assert ids("") == {a.pk, b.pk, c.pk}
    assert ids("status=open") == {a.pk, b.pk}
    assert ids("kind=up") == {b.pk}
    assert ids(f"owner={other.pk}") == {b.pk, c.pk}
    assert ids(f"contact={a.contact_id}") == {a.pk}
    assert ids(f"product={c.product_id}&status=dismissed") == {c.pk}
    assert ids("owner=999999") == set()


@pytest.mark.parametrize(
    "query, param",
    [
        ("status=maybe", "status"),
        ("kind=sideways", "kind"),
        ("owner=abc", "owner"),
        ("owner=0", "owner"),
        ("contact=1.5", "contact"),
        ("product=99999999999999999999", "product"),
        ("page=x", "page"),
    ],
)
def test_invalid_filters_are_400_naming_the_parameter(api, signal, query, param):
    response = api.get(f"{LIST}?{query}")
    assert response.status_code == 400
    assert param in response.json()


def test_list_query_count_is_constant(api, rep, django_assert_num_queries):
    for _ in range(3):
        make_signal(rep)
    api.get(PRECISION)  # the token's first use is recorded once; not part of the count
    # token (with its user), roles, count, rows
    with django_assert_num_queries(4):
        assert len(api.get(LIST).json()["results"]) == 3
    for _ in range(30):
        make_signal(UserFactory(roles=["sales"]), status="accepted")
    with django_assert_num_queries(4):
        assert len(api.get(LIST).json()["results"]) == 33
    one = f"{LIST}{Signal.objects.first().pk}/"
    with django_assert_num_queries(3):  # token, roles, the signal
        assert api.get(one).status_code == 200


@pytest.mark.parametrize("path", ["999999/", "abc/", "2e3/", "9223372036854775808/", "99999999999999999999/"])
def test_unknown_or_malformed_ids_are_404(api, path):
    assert api.get(LIST + path).status_code == 404
    assert api.post(LIST + path + "accept/", {"action": "task"}, format="json").status_code == 404
    assert api.post(LIST + path + "dismiss/", {"reason": "x"}, format="json").status_code == 404


def test_auth_and_roles(api_client_for, outsider, marketing_user, admin_user, signal):
    assert api_client_for(None).get(LIST).status_code == 401
    assert api_client_for(None).post(dismiss_url(signal), {"reason": "x"}, format="json").status_code == 401
    assert api_client_for(outsider).get(LIST).status_code == 403
    assert api_client_for(outsider).get(PRECISION).status_code == 403
    assert (
        api_client_for(outsider).post(accept_url(signal), {"action": "task"}, format="json").status_code
        == 403
    )
    for user in (marketing_user, admin_user):
        assert api_client_for(user).get(LIST).status_code == 200
        assert api_client_for(user).get(PRECISION).status_code == 200
    assert Signal.objects.get().status == "open"


def test_signals_are_not_created_or_changed_directly(api, signal):
    assert api.post(LIST, {"contact": signal.contact_id}, format="json").status_code == 405
    assert api.patch(f"{LIST}{signal.pk}/", {"status": "accepted"}, format="json").status_code == 405
    assert api.delete(f"{LIST}{signal.pk}/").status_code == 405
    assert Signal.objects.get().status == "open"


# --- Accepting -----------------------------------------------------------------------------------


def test_accept_with_a_task(api, rep, signal):
    response = api.post(accept_url(signal), {"action": "task", "title": "Call about EMC"}, format="json")
    assert response.status_code == 200, response.json()
    task = Task.objects.get()
    data = response.json()
    assert (data["status"], data["task"], data["decided_by"]) == ("accepted", task.pk, rep.pk)
    assert data["decided_at"].endswith("Z")
    assert (task.title, task.owner, task.source, task.contact) == (
        "Call about EMC",
        rep,
        "detector",
        signal.contact,
    )


def test_accept_with_a_draft_offer(api, rep, signal):
    data = api.post(accept_url(signal), {"action": "offer"}, format="json").json()
    offer = Offer.objects.get()
    assert (data["status"], data["offer"]) == ("accepted", offer.pk)
    assert (offer.status, offer.title, offer.owner) == ("draft", signal.product.name, rep)


def test_accept_with_a_sequence(api, signal):
    sequence = active_sequence()
    data = api.post(accept_url(signal), {"action": "sequence", "sequence": sequence.pk}, format="json").json()
    enrollment = Enrollment.objects.get()
    assert (data["status"], data["enrollment"]) == ("accepted", enrollment.pk)
    assert (enrollment.sequence, enrollment.contact) == (sequence, signal.contact)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "action"),
        ({"action": "teleport"}, "action"),
        ({"action": None}, "action"),
        ({"action": ["task"]}, "action"),
        ({"action": "sequence"}, "sequence"),
        ({"action": "sequence", "sequence": None}, "sequence"),
        ({"action": "sequence", "sequence": 999999}, "sequence"),
        ({"action": "sequence", "sequence": "abc"}, "sequence"),
        ({"action": "sequence", "sequence": 2**63}, "sequence"),
        ({"action": "task", "sequence": "ACTIVE"}, "sequence"),
        ({"action": "sequence", "sequence": "INACTIVE"}, "sequence"),
        ({"action": "task", "title": "x" * 201}, "title"),
        ({"action": "task", "title": 5.5}, None),
    ],
)
def test_bad_accept_bodies_are_400_and_change_nothing(api, signal, body, field):
    ids = {"ACTIVE": active_sequence().pk, "INACTIVE": nurturing.sequence_save(name="Paused").pk}
    body = {key: ids.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
    before = stored()
    response = api.post(accept_url(signal), body, format="json")
    if field is None:  # a number as the title is taken as text: not an error
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert field in response.json()
    assert stored() == before


def test_an_inactive_product_cannot_be_offered(api, rep):
    signal = make_signal(rep, item=product("Old line", active=False))
    before = stored()
    response = api.post(accept_url(signal), {"action": "offer"}, format="json")
    assert response.status_code == 400 and "items" in response.json()
    assert stored() == before


def test_a_decided_signal_is_400(api, signal):
    assert api.post(accept_url(signal), {"action": "task"}, format="json").status_code == 200
    before = stored()
    for target, body in (
        (accept_url(signal), {"action": "offer"}),
        (dismiss_url(signal), {"reason": "late"}),
    ):
        response = api.post(target, body, format="json")
        assert response.status_code == 400
        assert response.json() == {"non_field_errors": ["This signal has been decided already."]}
    assert stored() == before


def test_only_the_owner_or_an_admin_decides(
    api_client_for, rep, signal, sales_user, marketing_user, admin_user
):
    before = stored()
    for user in (sales_user, marketing_user):
        client = api_client_for(user)
        assert client.post(accept_url(signal), {"action": "task"}, format="json").status_code == 403
        assert client.post(dismiss_url(signal), {"reason": "not mine"}, format="json").status_code == 403
    assert stored() == before
    response = api_client_for(admin_user).post(dismiss_url(signal), {"reason": "Duplicate"}, format="json")
    assert response.status_code == 200 and response.json()["decided_by"] == admin_user.pk


# --- Dismissing ----------------------------------------------------------------------------------


def test_dismiss_with_a_reason(api, rep, signal):
    response = api.post(dismiss_url(signal), {"reason": "  Tests in-house "}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["dismiss_reason"], data["decided_by"]) == (
        "dismissed",
        "Tests in-house",
        rep.pk,
    )


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}, {"reason": "x" * 301}]
)
def test_dismiss_needs_a_reason(api, signal, body):
    before = stored()
    response = api.post(dismiss_url(signal), body, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert stored() == before


def test_malformed_json_is_400(api, signal):
    response = api.post(dismiss_url(signal), "{not json", content_type="application/json")
    assert response.status_code == 400
    response = api.post(accept_url(signal), ["task"], format="json")
    assert response.status_code == 400
    assert Signal.objects.get().status == "open"


# --- Precision -----------------------------------------------------------------------------------


def test_precision_without_decisions(api):
    data = api.get(PRECISION).json()
    assert (data["decided"], data["accepted"], data["precision"]) == (0, 0, None)
    assert set(data["by_kind"]) == {"cross", "up", "repeat"}
    assert data["by_kind"]["up"] == {
        "decided": 0,
        "accepted": 0,
        "dismissed": 0,
        "open": 0,
        "precision": None,
    }


def test_precision_overall_and_per_kind(api, rep, django_assert_num_queries):
    for kind, status in [
        ("cross", "accepted"),
        ("cross", "accepted"),
        ("cross", "dismissed"),
        ("up", "dismissed"),
        ("up", "open"),
        ("repeat", "open"),
    ]:
        make_signal(rep, kind=kind, status=status)
    api.get(PRECISION)  # the token's first use is recorded once; not part of the count
    with django_assert_num_queries(3):  # token, roles, one aggregate
        data = api.get(PRECISION).json()
    assert (data["decided"], data["accepted"], data["dismissed"], data["open"]) == (4, 2, 2, 2)
    assert data["precision"] == 0.5
    assert data["by_kind"]["cross"] == {
        "decided": 3,
        "accepted": 2,
        "dismissed": 1,
        "open": 0,
        "precision": pytest.approx(2 / 3),
    }
    assert data["by_kind"]["up"]["precision"] == 0.0
    assert data["by_kind"]["repeat"] == {
        "decided": 0,
        "accepted": 0,
        "dismissed": 0,
        "open": 1,
        "precision": None,
    }
