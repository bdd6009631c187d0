"""Sending the webhook outbox (webhooks.models.Delivery).

A batch of due pending rows is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` and leased (its
``next_attempt_at`` moved ``LEASE`` ahead) in one short transaction, so workers share the work and a
worker that dies mid-batch leaves its rows to be tried again after the lease. Then, outside any
transaction, each row is sent: the attempt is recorded (committed) before the POST, the result after.
A crash between the POST and the result sends the event again later — delivery is *at least once*,
receivers dedupe by the delivery id.

A 2xx answer is success; anything else (another status, a timeout, a refused connection, a target
that now resolves to a private address) is retried after 1 min, 5 min, 30 min, 2 h, 6 h and 12 h
(about 21 h in all); then the row is *failed*. A final failure of a subscription that has had no
success since that event happened disables it and tells its owner.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import Notification
from notifications.services import notifications_create
from webhooks.models import Delivery, Subscription
from webhooks.targets import check_target

logger = logging.getLogger(__name__)

BATCH = 10
# Longer than a batch can take (BATCH × TIMEOUT): a leased row is not claimed again while in flight.
LEASE = timedelta(minutes=5)
TIMEOUT = 10  # seconds per request
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
SNIPPET = 500
USER_AGENT = "Trichter-Webhooks/1"


def deliver(*, limit: int = BATCH, now: datetime | None = None) -> int:
    """Send up to ``limit`` due deliveries; returns how many were claimed."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=Delivery.State.PENDING, next_attempt_at__lte=now, subscription__is_active=True)
            .select_related("subscription")
            .order_by("next_attempt_at", "id")[:limit]
        )
        if not rows:
            return 0
        Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(next_attempt_at=now + LEASE)
    for row in rows:
        try:
            attempt(row, now=now)
        except Exception:  # noqa: BLE001 — one broken row must not stop the batch; the lease retries it
            logger.exception("Webhook delivery %s failed unexpectedly", row.delivery_id)
    return len(rows)


def attempt(row: Delivery, *, now: datetime) -> None:
    """Send one delivery and record the result (each record its own committed statement)."""
    row.attempts += 1
    Delivery.objects.filter(pk=row.pk).update(attempts=row.attempts, last_attempt_at=now)
    status, text, error = send(row)
    if status is not None and 200 <= status < 300:
        _succeeded(row, status, text, now)
    else:
        _failed(row, status, text, error, now)


def send(row: Delivery) -> tuple[int | None, str, str]:
    """POST the payload; returns (status code or None, response snippet, error)."""
    subscription = row.subscription
    try:
        check_target(subscription.url)  # again: DNS may have changed since the subscription was saved
    except ValidationError as exc:
        return None, "", "; ".join(exc.messages)[:SNIPPET]
    body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Trichter-Delivery": str(row.delivery_id),
            "Trichter-Event": row.kind,
            "Trichter-Timestamp": timestamp,
            "Trichter-Signature": "v1=" + sign(subscription.secret, timestamp, body),
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            return response.status, _snippet(response), ""
    except urllib.error.HTTPError as exc:  # a non-2xx answer (redirects included: never followed)
        try:
            return exc.code, _snippet(exc), ""
        finally:
            exc.close()
    except Exception as exc:  # noqa: BLE001 — timeouts, refused connections, TLS errors: retried
        return None, "", f"{type(exc).__name__}: {exc}"[:SNIPPET]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with the subscription's secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead to an address the target check refused; the 3xx is the answer.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# No proxies from the environment either: the address checked is the address connected to.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


def _snippet(response) -> str:
    try:
        return response.read(SNIPPET * 4).decode("utf-8", "replace")[:SNIPPET]
    except Exception:  # noqa: BLE001 — a broken body does not change the status
        return ""


def _succeeded(row: Delivery, status: int, text: str, now: datetime) -> None:
    with transaction.atomic():
        Delivery.objects.filter(pk=row.pk, attempts=row.attempts).update(
            state=Delivery.State.DELIVERED,
            delivered_at=now,
            next_attempt_at=None,
            last_status_code=status,
            last_response=text,
            last_error="",
        )
        Subscription.objects.filter(pk=row.subscription_id).update(
            consecutive_failures=0, last_success_at=now
        )


def _failed(row: Delivery, status: int | None, text: str, error: str, now: datetime) -> None:
    final = row.attempts >= MAX_ATTEMPTS
    if not error and status is not None:
        error = _("HTTP status %(status)s") % {"status": status}
    row.last_status_code, row.last_error = status, error
    with transaction.atomic():
        # Guarded by the attempt count: a redelivery asked for meanwhile (attempts reset) wins.
        changed = Delivery.objects.filter(pk=row.pk, attempts=row.attempts).update(
            state=Delivery.State.FAILED if final else Delivery.State.PENDING,
            next_attempt_at=None if final else now + BACKOFF[row.attempts - 1],
            last_status_code=status,
            last_response=text,
            last_error=error,
        )
        Subscription.objects.filter(pk=row.subscription_id).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        if final and changed:
            _maybe_disable(row, now)


def _maybe_disable(row: Delivery, now: datetime) -> None:
    """A delivery failed for good. If nothing reached the receiver since that event happened (about a
    day of failures), the subscription is disabled and its owner told — once."""
    subscription = Subscription.objects.select_for_update().get(pk=row.subscription_id)
    if not subscription.is_active:
        return
    if subscription.last_success_at is not None and subscription.last_success_at >= row.created_at:
        return  # the receiver works, it refused this one event: not a reason to stop the others
    reason = _("Disabled on %(date)s: deliveries failed for %(hours)s hours (last error: %(error)s).") % {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "hours": int((now - row.created_at).total_seconds() // 3600),
        "error": row.last_error or "?",
    }
    Subscription.objects.filter(pk=subscription.pk).update(is_active=False, disabled_reason=reason[:500])
    logger.warning("Webhook %s disabled: %s", subscription.pk, reason)
    if subscription.owner_id:
        notifications_create(
            notifications=[
                Notification(
                    user_id=subscription.owner_id,
                    kind="webhook_disabled",
                    title=(_("Webhook “%(name)s” was disabled") % {"name": subscription.name})[:200],
                    body=reason,
                    dedupe_key=f"webhook-disabled:{subscription.pk}:{row.delivery_id}",
                )
            ]
        )


PURGE_CHUNK = 5_000


def purge_finished(*, days: int, now: datetime | None = None) -> int:
    """Delete finished (delivered or failed) deliveries created more than ``days`` ago, in chunks so
    that no statement holds many row locks; pending ones stay whatever their age. Returns the count."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    finished = Delivery.objects.filter(
        state__in=[Delivery.State.DELIVERED, Delivery.State.FAILED], created_at__lt=cutoff
    )
    deleted = 0
    while True:
        ids = list(finished.order_by().values_list("pk", flat=True)[:PURGE_CHUNK])
        if not ids:
            return deleted
        deleted += Delivery.objects.filter(pk__in=ids).delete()[0]
