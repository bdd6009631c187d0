"""The delivery log's retention: finished deliveries older than WEBHOOK_LOG_DAYS go, pending stay."""

from datetime import timedelta

import pytest
from django.utils import timezone

from webhooks.delivery import purge_finished
from webhooks.models import Delivery
from webhooks.services import subscription_create
from webhooks.tasks import purge_webhook_log

pytestmark = pytest.mark.django_db


def test_finished_deliveries_past_the_retention_are_purged(admin_user, settings):
    settings.WEBHOOK_LOG_DAYS = 30
    subscription = subscription_create(
        owner=admin_user, name="ERP", url="https://erp.example.com/hook", kinds=["task.created"]
    )
    now = timezone.now()
    rows = {}
    for name, state, age in [
        ("old delivered", Delivery.State.DELIVERED, 40),
        ("old failed", Delivery.State.FAILED, 31),
        ("old pending", Delivery.State.PENDING, 60),
        ("recent delivered", Delivery.State.DELIVERED, 5),
    ]:
        row = Delivery.objects.create(
            subscription=subscription,
            kind="task.created",
            payload={"name": name},
            state=state,
            next_attempt_at=now,
        )
        Delivery.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=age))
        rows[name] = row.pk
    assert purge_webhook_log() == 2
    left = set(Delivery.objects.values_list("pk", flat=True))
    assert left == {rows["old pending"], rows["recent delivered"]}
    assert purge_finished(days=30) == 0  # nothing twice
