"""The R/U/C detector: raises, deduplicates, ignores owned products and non-customers; accepting and
dismissing signals."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import DetectorSettings, Signal
from customers.services import signal_accept, signal_dismiss, signals_detect
from notifications.models import Notification
from offers.models import Ownership, Product, ProductTopic
from sales.models import Task
from scoring import decay
from scoring.models import ContactTopic, Event
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HALF_LIFE = 30  # the default scoring half-life


def product(name, topics, family="", repeatable=False):
    item = Product.objects.create(name=name, family=family, repeatable=repeatable)
    for topic in topics:
        ProductTopic.objects.create(product=item, topic=topic)
    return item


def interest(contact, topic, weight, at=NOW):
    """A topic weight of ``weight`` at ``at`` (as ``weight`` events on it just then would give)."""
    ContactTopic.objects.update_or_create(
        contact=contact,
        topic=topic,
        defaults={"events": int(weight), "acc": weight * decay.growth(at, HALF_LIFE)},
    )


def owns(contact, item, *, days_ago=30, company=None):
    at = NOW - timedelta(days=days_ago)
    return Ownership.objects.create(
        contact=contact, company=company, product=item, since=at, last_purchase_at=at
    )


@pytest.fixture
def rep():
    return UserFactory(username="rep", roles=["sales"])


@pytest.fixture
def catalogue():
    return {
        "layout": product("PCB layout", ["pcb-design"], family="pcb"),
        "layout_pro": product("PCB layout pro", ["pcb-hdi"], family="pcb"),
        "emc": product("EMC testing", ["emc"]),
        "parts": product("Prototype parts", ["prototyping"], repeatable=True),
    }


def test_a_customer_interested_in_a_product_they_do_not_own_raises_one_cross_signal(catalogue, rep):
    customer = ContactFactory(stage=stage("customer"), owner=rep)
    owns(customer, catalogue["layout"])
    interest(customer, "emc", 3)
    [signal] = signals_detect(contact_ids=[customer.pk], now=NOW)
    assert (signal.kind, signal.product, signal.owner, signal.topic) == (
        "cross",
        catalogue["emc"],
        rep,
        "emc",
    )
    assert signal.weight == 3.0
    assert signals_detect(contact_ids=[customer.pk], now=NOW + timedelta(hours=1)) == []
    assert Signal.objects.count() == 1
    note = Notification.objects.get(kind="signal")
    assert note.user == rep and "EMC testing" in note.title


def test_same_family_is_an_up_sell_and_owned_products_are_ignored(catalogue, rep):
    customer = ContactFactory(stage=stage("consumption"), owner=rep)
    owns(customer, catalogue["layout"])
    interest(customer, "pcb-hdi", 2.5)
    interest(customer, "pcb-design", 5)  # owns it, not repeatable: nothing
    [signal] = signals_detect(contact_ids=[customer.pk], now=NOW)
    assert (signal.kind, signal.product) == ("up", catalogue["layout_pro"])


def test_repeat_only_for_repeatable_products_bought_long_ago(catalogue, rep):
    recent = ContactFactory(stage=stage("customer"), owner=rep)
    old = ContactFactory(stage=stage("customer"), owner=rep)
    owns(recent, catalogue["parts"], days_ago=20)
    owns(old, catalogue["parts"], days_ago=DetectorSettings.load().repeat_after_days + 1)
    for contact in (recent, old):
        interest(contact, "prototyping", 4)
    signals = signals_detect(contact_ids=[recent.pk, old.pk], now=NOW)
    assert [(s.contact_id, s.kind) for s in signals] == [(old.pk, "repeat")]


def test_non_customers_are_ignored_unless_their_company_is_a_customer(catalogue, rep):
    customer_firm, other_firm = CompanyFactory(), CompanyFactory()
    ContactFactory(company=customer_firm, stage=stage("customer"))
    colleague = ContactFactory(company=customer_firm, stage=stage("lead"), owner=rep)
    stranger = ContactFactory(company=other_firm, stage=stage("prospect"), owner=rep)
    for contact in (colleague, stranger):
        interest(contact, "emc", 3)
    signals = signals_detect(contact_ids=[colleague.pk, stranger.pk], now=NOW)
    assert [s.contact_id for s in signals] == [colleague.pk]


def test_what_the_company_owns_counts_as_owned(catalogue, rep):
    firm = CompanyFactory()
    buyer = ContactFactory(company=firm, stage=stage("customer"))
    engineer = ContactFactory(company=firm, stage=stage("customer"), owner=rep)
    owns(buyer, catalogue["emc"], company=firm)
    interest(engineer, "emc", 3)
    assert signals_detect(contact_ids=[engineer.pk], now=NOW) == []


def test_weak_or_faded_interest_raises_nothing(catalogue, rep):
    customer = ContactFactory(stage=stage("customer"), owner=rep)
    interest(customer, "emc", 1.5)  # below the default threshold of 2
    assert signals_detect(contact_ids=[customer.pk], now=NOW) == []
    interest(customer, "emc", 3, at=NOW - timedelta(days=HALF_LIFE * 2))  # 3 then, 0.75 now
    assert signals_detect(contact_ids=[customer.pk], now=NOW) == []


def test_a_dismissed_signal_stays_quiet_then_may_return(catalogue, rep):
    customer = ContactFactory(stage=stage("customer"), owner=rep)
    interest(customer, "emc", 3)
    [signal] = signals_detect(contact_ids=[customer.pk], now=NOW)
    with pytest.raises(ValidationError):
        signal_dismiss(signal=signal, by=rep, reason="  ")
    signal_dismiss(signal=signal, by=rep, reason="They test in-house")
    Signal.objects.filter(pk=signal.pk).update(decided_at=NOW)  # decided then, in this test's time
    interest(customer, "emc", 6)
    assert signals_detect(contact_ids=[customer.pk], now=NOW + timedelta(days=10)) == []
    later = NOW + timedelta(days=100)
    interest(customer, "emc", 6, at=later)
    assert len(signals_detect(contact_ids=[customer.pk], now=later)) == 1


def test_accepting_creates_one_task_and_only_the_owner_or_an_admin_decides(catalogue, rep, admin_user):
    customer = ContactFactory(stage=stage("customer"), owner=rep)
    interest(customer, "emc", 3)
    [signal] = signals_detect(contact_ids=[customer.pk], now=NOW)
    other = UserFactory(username="other", roles=["sales"])
    with pytest.raises(PermissionDenied):
        signal_accept(signal=signal, by=other, action="task")
    with pytest.raises(ValidationError):
        signal_accept(signal=signal, by=rep, action="teleport")
    accepted = signal_accept(signal=signal, by=rep, action="task")
    task = Task.objects.get()
    assert (accepted.status, accepted.task, task.source, task.owner) == ("accepted", task, "detector", rep)
    with pytest.raises(ValidationError):
        signal_accept(signal=signal, by=admin_user, action="task")
    assert Task.objects.count() == 1


def test_unowned_customers_get_an_owner_who_is_told(catalogue, rep):
    customer = ContactFactory(stage=stage("customer"))
    interest(customer, "emc", 3)
    [signal] = signals_detect(contact_ids=[customer.pk], now=NOW)
    customer.refresh_from_db()
    assert signal.owner == rep and customer.owner == rep
    assert Notification.objects.filter(user=rep, kind="signal").count() == 1


def test_queries_do_not_grow_with_the_contacts(catalogue, rep, django_assert_max_num_queries):
    def customers(n):
        contacts = [ContactFactory(stage=stage("customer"), owner=rep) for _ in range(n)]
        for contact in contacts:
            interest(contact, "emc", 3)
            owns(contact, catalogue["layout"])
        return [c.pk for c in contacts]

    first, second = customers(3), customers(30)
    with CaptureQueriesContext(connection) as few:
        assert len(signals_detect(contact_ids=first, now=NOW)) == 3
    with django_assert_max_num_queries(len(few)):
        assert len(signals_detect(contact_ids=second, now=NOW)) == 30


def test_a_customers_download_through_the_api_raises_exactly_one_signal(catalogue, rep, api_client_for):
    from django.test import TestCase

    from scoring.services import events_apply_pending

    customer = ContactFactory(stage=stage("customer"), owner=rep)
    owns(customer, catalogue["layout"])
    api = api_client_for(rep)
    batch = [{"id": f"dl-{i}", "type": "download", "contact": customer.pk, "topic": "emc"} for i in range(3)]
    assert api.post("/api/v1/events/", batch, format="json").status_code == 202
    with TestCase.captureOnCommitCallbacks(execute=True):
        events_apply_pending()
    signal = Signal.objects.get()
    assert (signal.contact_id, signal.product, signal.kind) == (customer.pk, catalogue["emc"], "cross")
    assert sorted(signal.event_ids) == sorted(Event.objects.values_list("pk", flat=True))
