"""Consumption: customers who do not use what they bought are flagged once per spell."""

from datetime import UTC, datetime, timedelta

import pytest

from customers.consumption import consumption_check
from customers.models import Consumption, DetectorSettings
from nurturing.models import Enrollment
from nurturing.services import sequence_activate, sequence_save, step_save
from offers.models import Ownership, Product, ProductTopic
from sales.models import Task
from scoring.models import Event, EventType
from tests.factories import ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def firmware():
    product = Product.objects.create(name="Firmware updates", sku="FW-1")
    ProductTopic.objects.create(product=product, topic="firmware")
    return product


def bought(product, days_ago, owner=None):
    contact = ContactFactory(stage=stage("customer"), owner=owner)
    at = NOW - timedelta(days=days_ago)
    return Ownership.objects.create(contact=contact, product=product, since=at, last_purchase_at=at)


def used(ownership, days_ago, **fields):
    Event.objects.create(
        external_id=f"u-{ownership.pk}-{days_ago}-{len(fields)}",
        type=EventType.objects.get(key="usage"),
        contact_id=ownership.contact_id,
        occurred_at=NOW - timedelta(days=days_ago),
        **fields,
    )


def state(ownership):
    return Consumption.objects.get(ownership=ownership).state


def test_states_from_usage_events(firmware):
    rep = UserFactory(roles=["sales"])
    by_topic = bought(firmware, 200, owner=rep)
    used(by_topic, 5, topic="firmware")
    by_sku = bought(firmware, 200, owner=rep)
    used(by_sku, 10, properties={"product": "FW-1"})
    by_id = bought(firmware, 200, owner=rep)
    used(by_id, 10, properties={"product": firmware.pk})
    new = bought(firmware, 10, owner=rep)
    lapsed = bought(firmware, 200, owner=rep)
    used(lapsed, 90, topic="firmware")
    other_topic = bought(firmware, 200, owner=rep)
    used(other_topic, 1, topic="emc")
    unnamed = bought(firmware, 200, owner=rep)
    used(unnamed, 3)  # names no product: counts for all the contact owns
    assert consumption_check(now=NOW) == {"tasks": 2, "enrolled": 0}
    assert [state(o) for o in (by_topic, by_sku, by_id, new, lapsed, other_topic, unnamed)] == [
        "consuming",
        "consuming",
        "consuming",
        "starting",
        "not_consuming",
        "not_consuming",
        "consuming",
    ]
    assert Consumption.objects.get(ownership=lapsed).last_usage_at == NOW - timedelta(days=90)
    tasks = Task.objects.order_by("contact_id")
    assert [t.contact_id for t in tasks] == [lapsed.contact_id, other_topic.contact_id]
    assert all(t.owner == rep and t.source == "detector" for t in tasks)


def test_a_rerun_flags_nothing_twice_and_a_new_spell_flags_again(firmware):
    ownership = bought(firmware, 200)
    consumption_check(now=NOW)
    consumption_check(now=NOW + timedelta(days=1))
    assert Task.objects.count() == 1
    used(ownership, -2, topic="firmware")  # uses it again (two days after NOW)
    consumption_check(now=NOW + timedelta(days=3))
    assert state(ownership) == "consuming"
    consumption_check(now=NOW + timedelta(days=100))
    assert state(ownership) == "not_consuming"
    assert Task.objects.count() == 2


def test_flagged_customers_can_go_into_a_sequence_instead(firmware):
    sequence = sequence_save(name="Onboarding help")
    step_save(sequence=sequence, kind="wait", wait=timedelta(days=1))
    sequence = sequence_activate(sequence=sequence)
    settings_row = DetectorSettings.load()
    settings_row.not_consuming_sequence = sequence
    settings_row.save()
    ownership = bought(firmware, 200)
    assert consumption_check(now=NOW) == {"tasks": 0, "enrolled": 1}
    assert Enrollment.objects.get().contact_id == ownership.contact_id
    assert not Task.objects.exists()


def test_queries_per_batch_not_per_ownership(firmware):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(n):
        Ownership.objects.all().delete()
        for _ in range(n):
            bought(firmware, 200)
        with CaptureQueriesContext(connection) as captured:
            consumption_check(now=NOW, batch=1000)
        return len(captured)

    DetectorSettings.load()  # created once, outside the measured runs
    assert queries(5) == queries(50)


def test_consumption_page(client_for, sales_user, outsider, client, firmware):
    ownership = bought(firmware, 200)
    consumption_check(now=NOW)
    page = client_for(sales_user).get("/customers/consumption/")
    assert page.status_code == 200
    assert str(ownership.contact).encode() in page.content
    assert client.get("/customers/consumption/?state=bogus&page=-1").status_code == 200
    client.force_login(outsider)
    assert client.get("/customers/consumption/").status_code == 403
