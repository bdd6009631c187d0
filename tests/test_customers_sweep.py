"""The periodic detector sweep (customers.tasks.detect_signals_sweep) and the demo signals: what no
event announces — a product topic added later, a contact who becomes a customer after showing
interest — is found; batches continue where they stopped; running twice raises nothing new."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery import app
from customers import demo, tasks
from customers.models import DetectorSettings, Signal
from customers.selectors import sweep_contact_ids
from funnel.services import contact_move_stage
from offers.models import Ownership, Product, ProductTopic
from sales.models import Task
from scoring import decay
from scoring.models import ContactTopic
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db
HALF_LIFE = 30  # the default scoring half-life


def interest(contact, topic, weight):
    ContactTopic.objects.update_or_create(
        contact=contact,
        topic=topic,
        defaults={"events": int(weight), "acc": weight * decay.growth(timezone.now(), HALF_LIFE)},
    )


@pytest.fixture
def rep():
    return UserFactory(username="rep", roles=["sales"])


@pytest.fixture
def emc():
    item = Product.objects.create(name="EMC testing")
    ProductTopic.objects.create(product=item, topic="emc")
    return item


@pytest.fixture
def queued(monkeypatch):
    """The sweep's continuations, recorded instead of sent to the broker."""
    calls = []
    monkeypatch.setattr(tasks.detect_signals_sweep, "delay", lambda **kwargs: calls.append(kwargs))
    return calls


def test_the_sweep_is_scheduled_hourly():
    entry = settings.CELERY_BEAT_SCHEDULE["customers-detect-signals-sweep"]
    assert entry["task"] == "customers.tasks.detect_signals_sweep" and entry["schedule"] == 3600.0
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


def test_the_sweep_raises_signals_for_interested_customers_only(rep, emc, queued):
    customer_firm = CompanyFactory()
    ContactFactory(company=customer_firm, stage=stage("customer"))
    customer = ContactFactory(stage=stage("customer"), owner=rep)
    colleague = ContactFactory(company=customer_firm, stage=stage("lead"), owner=rep)
    owner_firm = CompanyFactory()
    Ownership.objects.create(
        contact=ContactFactory(company=owner_firm),
        company=owner_firm,
        product=Product.objects.create(name="Other"),
        since=timezone.now(),
        last_purchase_at=timezone.now(),
    )
    at_owning_firm = ContactFactory(company=owner_firm, stage=stage("suspect"), owner=rep)
    stranger = ContactFactory(stage=stage("prospect"), owner=rep)
    weak = ContactFactory(stage=stage("customer"), owner=rep)
    elsewhere = ContactFactory(stage=stage("customer"), owner=rep)
    for contact in (customer, colleague, at_owning_firm, stranger):
        interest(contact, "emc", 3)
    interest(weak, "emc", 1)
    interest(elsewhere, "gardening", 9)
    assert sweep_contact_ids(limit=100) == sorted([customer.pk, colleague.pk, at_owning_firm.pk])
    assert tasks.detect_signals_sweep() == 3
    assert set(Signal.objects.values_list("contact_id", flat=True)) == {
        customer.pk,
        colleague.pk,
        at_owning_firm.pk,
    }
    assert tasks.detect_signals_sweep() == 0  # safe to run twice
    assert Signal.objects.count() == 3 and queued == []


def test_a_topic_added_later_and_a_new_customer_are_noticed(rep, emc, queued):
    later = ContactFactory(stage=stage("customer"), owner=rep)
    interest(later, "pcb-hdi", 4)
    prospect = ContactFactory(stage=stage("prospect"), owner=rep)
    interest(prospect, "emc", 4)
    assert tasks.detect_signals_sweep() == 0
    ProductTopic.objects.create(product=emc, topic="pcb-hdi")
    contact_move_stage(contact=prospect, stage=stage("customer"), by=rep, reason="won")
    assert tasks.detect_signals_sweep() == 2
    assert Signal.objects.get(contact=later).topic == "pcb-hdi"


def test_inactive_products_are_not_swept(rep, emc, queued):
    Product.objects.filter(pk=emc.pk).update(active=False)
    interest(ContactFactory(stage=stage("customer"), owner=rep), "emc", 4)
    assert sweep_contact_ids(limit=100) == []
    assert tasks.detect_signals_sweep() == 0


def test_the_sweep_works_in_batches_and_queues_the_rest(rep, emc, queued, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 2)
    contacts = [ContactFactory(stage=stage("customer"), owner=rep) for _ in range(5)]
    for contact in contacts:
        interest(contact, "emc", 3)
    assert tasks.detect_signals_sweep(max_batches=2) == 4
    assert queued == [{"after_id": contacts[3].pk, "max_batches": 2}]
    assert tasks.detect_signals_sweep(**queued[0]) == 1  # the continuation: the last one, then done
    assert len(queued) == 1 and Signal.objects.count() == 5


def test_the_sweep_is_set_based(rep, emc, queued):
    def customers(n):
        for _ in range(n):
            interest(ContactFactory(stage=stage("customer"), owner=rep), "emc", 3)

    DetectorSettings.load()  # its row is created on first use
    customers(3)
    with CaptureQueriesContext(connection) as few:
        assert tasks.detect_signals_sweep() == 3
    Signal.objects.all().delete()
    customers(30)
    with CaptureQueriesContext(connection) as many:
        assert tasks.detect_signals_sweep() == 33
    assert len(many) == len(few)


def test_demo_signals_are_raised_partly_decided_and_idempotent(rep, emc):
    customers = [ContactFactory(stage=stage("customer"), owner=rep) for _ in range(8)]
    for contact in customers:
        interest(contact, "emc", 3)
    first = demo.load_demo_signals()
    assert (first.raised, first.accepted, first.dismissed) == (8, 2, 2)
    assert Task.objects.filter(source="detector").count() == 2
    assert Signal.objects.filter(status="open").count() == 4
    before = list(Signal.objects.order_by("pk").values())
    second = demo.load_demo_signals()
    assert (second.raised, second.accepted, second.dismissed) == (0, 0, 0)
    assert list(Signal.objects.order_by("pk").values()) == before
