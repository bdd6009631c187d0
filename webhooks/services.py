"""Write-side logic of webhooks: emitting events into the outbox, subscriptions, redelivery.

``webhook_emit`` runs inside the caller's transaction: the delivery rows commit (or roll back) with
the change they report, so no event is lost when Redis or the worker is down — the periodic task
finds the rows — and no event is sent for a change that never happened. Delivery is at least once:
receivers dedupe by the delivery id (the envelope's ``id``, header ``Trichter-Delivery``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Action
from audit.services import audit_record
from webhooks.models import KIND_KEYS, TEST_KIND, Delivery, Subscription, new_secret
from webhooks.targets import check_target

Data = dict | Callable[[], dict]
Items = Iterable[dict] | Callable[[], Iterable[dict]]


# --- Emitting -------------------------------------------------------------------------------------


def webhook_emit(kind: str, data: Data) -> int:
    """Queue one event of ``kind`` for every active subscription that wants it; returns the rows written.

    ``data`` is the event's object, or a function returning it: called only when someone subscribed,
    so a caller whose payload needs a query pays for it only then. Costs one indexed query when
    nobody subscribed to anything."""
    return webhook_emit_many(kind, (lambda: [data()]) if callable(data) else [data])


def webhook_emit_many(kind: str, items: Items) -> int:
    """The bulk form of :func:`webhook_emit`: one event per item, one SELECT and one INSERT in all."""
    if kind not in KIND_KEYS:
        raise ValueError(f"unknown webhook event kind {kind!r}")
    subscription_ids = _subscribers(kind)
    if not subscription_ids:
        return 0
    items = list(items() if callable(items) else items)
    if not items:
        return 0
    now = timezone.now()
    rows = [
        _delivery(subscription_id, kind, _jsonable(data), now)
        for data in items
        for subscription_id in subscription_ids
    ]
    Delivery.objects.bulk_create(rows, batch_size=500)
    _kick()
    return len(rows)


def _subscribers(kind: str) -> list[int]:
    # The kinds are a short JSON list: filtered here rather than with a JSON lookup SQLite lacks.
    # Never cached: a subscription created a moment ago must get the next event.
    active = Subscription.objects.filter(is_active=True).values_list("pk", "kinds")
    return [pk for pk, kinds in active if kind in (kinds or ())]


def _delivery(subscription_id: int, kind: str, data, now: datetime) -> Delivery:
    delivery_id = uuid.uuid4()
    return Delivery(
        subscription_id=subscription_id,
        kind=kind,
        delivery_id=delivery_id,
        payload={"id": str(delivery_id), "type": kind, "created_at": _iso(now), "data": data},
        state=Delivery.State.PENDING,
        next_attempt_at=now,
    )


def _jsonable(data):
    """Datetimes, decimals and UUIDs as JSON text, exactly once (the stored payload is what is sent)."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _iso(value: datetime) -> str:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _kick() -> None:
    """Ask a worker to deliver after the commit; once per transaction however many events it emits."""
    from webhooks.tasks import queue_delivery

    if connection.in_atomic_block and any(entry[1] is queue_delivery for entry in connection.run_on_commit):
        return
    transaction.on_commit(queue_delivery)


# --- Subscriptions --------------------------------------------------------------------------------


def clean_kinds(kinds) -> list[str]:
    """The chosen kinds, each known, without repeats, in the order of the catalogue."""
    if not isinstance(kinds, list | tuple) or not all(isinstance(k, str) for k in kinds):
        raise ValidationError({"kinds": [_("Give a list of event kinds.")]})
    unknown = sorted(set(kinds) - KIND_KEYS)
    if unknown:
        raise ValidationError(
            {"kinds": [_("Unknown event kind: %(kinds)s.") % {"kinds": ", ".join(unknown)}]}
        )
    if not kinds:
        raise ValidationError({"kinds": [_("Choose at least one event.")]})
    from webhooks.models import KINDS

    return [key for key, _label in KINDS if key in kinds]


def _clean(subscription: Subscription) -> None:
    subscription.kinds = clean_kinds(subscription.kinds)
    subscription.full_clean(exclude=["kinds"])
    check_target(subscription.url)


@transaction.atomic
def subscription_create(*, owner, name: str, url: str, kinds, is_active: bool = True) -> Subscription:
    """A new subscription owned by ``owner`` (told when it is disabled), with a fresh secret."""
    subscription = Subscription(owner=owner, name=name, url=url, kinds=kinds, is_active=is_active)
    _clean(subscription)
    subscription.save()
    _audit(owner, subscription, "created", kinds=list(subscription.kinds))
    return subscription


def _audit(by, subscription: Subscription, change: str, **details) -> None:
    # The URL may carry a customer's host name but no person's data; the secret is never logged.
    audit_record(actor=by, action=Action.WEBHOOK_CHANGED, target=subscription, change=change, **details)


EDITABLE = ("name", "url", "kinds", "is_active")


@transaction.atomic
def subscription_update(*, subscription: Subscription, by=None, **fields) -> Subscription:
    """Change ``name``, ``url``, ``kinds``, ``is_active``. Re-activating clears the failure count and
    the reason it was disabled; its pending deliveries go out again."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"Not editable: {sorted(unknown)}")
    reactivated = fields.get("is_active") is True and not subscription.is_active
    for name, value in fields.items():
        setattr(subscription, name, value)
    _clean(subscription)
    if reactivated:
        subscription.consecutive_failures = 0
        subscription.disabled_reason = ""
    elif fields.get("is_active") is False and not subscription.disabled_reason:
        subscription.disabled_reason = _("Paused by hand.")
    if subscription.is_active and "is_active" in fields:
        subscription.disabled_reason = ""
    subscription.save()
    _audit(by, subscription, "updated", fields=sorted(fields))
    if reactivated:
        _kick()
    return subscription


@transaction.atomic
def subscription_rotate_secret(*, subscription: Subscription, by=None) -> Subscription:
    """A new signing secret; deliveries sent from now on are signed with it."""
    subscription.secret = new_secret()
    subscription.save(update_fields=["secret", "updated_at"])
    _audit(by, subscription, "secret renewed")
    return subscription


@transaction.atomic
def subscription_delete(*, subscription: Subscription, by=None) -> None:
    _audit(by, subscription, "deleted")
    subscription.delete()


# --- Deliveries -----------------------------------------------------------------------------------


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """Send a delivery again now, with the same delivery id (to the receiver it is the same event,
    so its dedupe applies) and the full retry schedule."""
    delivery = Delivery.objects.select_for_update().select_related("subscription").get(pk=delivery.pk)
    if not delivery.subscription.is_active:
        raise ValidationError(_("This webhook is disabled; activate it first."))
    delivery.state = Delivery.State.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now or timezone.now()
    delivery.last_error = ""
    delivery.save(update_fields=["state", "attempts", "next_attempt_at", "last_error"])
    _kick()
    return delivery


@transaction.atomic
def webhook_send_test(*, subscription: Subscription, by=None) -> Delivery:
    """A ``webhook.test`` event to this subscription only (to check the receiver and its signature)."""
    if not subscription.is_active:
        raise ValidationError(_("This webhook is disabled; activate it first."))
    now = timezone.now()
    row = _delivery(
        subscription.pk,
        TEST_KIND,
        {"subscription": subscription.pk, "by": by.pk if by else None, "message": "Trichter webhook test"},
        now,
    )
    row.save()
    _kick()
    return row
