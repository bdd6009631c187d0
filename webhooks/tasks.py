"""Celery tasks of webhooks: thin wrappers over webhooks.delivery (the periodic schedule is in
settings). Safe to run twice and on several workers at once: rows are claimed with SKIP LOCKED."""

import logging
import time

from celery import shared_task
from django.conf import settings

from webhooks import delivery

logger = logging.getLogger(__name__)

# A run stops starting new batches after this long (a batch may take BATCH × TIMEOUT seconds).
BUDGET_SECONDS = 60


@shared_task(ignore_result=True)
def deliver_webhooks(max_batches: int = 20) -> int:
    """Send due webhook deliveries in batches; the beat tick and ``queue_delivery`` call it."""
    started = time.monotonic()
    total = 0
    for _ in range(max(1, int(max_batches))):
        done = delivery.deliver()
        total += done
        if done < delivery.BATCH:
            return total
        if time.monotonic() - started > BUDGET_SECONDS:
            break
    queue_delivery()  # more is due: continue in a new task
    return total


@shared_task(ignore_result=True)
def purge_webhook_log() -> int:
    """Delete delivered and failed deliveries older than WEBHOOK_LOG_DAYS (pending ones stay)."""
    return delivery.purge_finished(days=settings.WEBHOOK_LOG_DAYS)


def queue_delivery() -> None:
    """Ask a worker to deliver now (on commit of new deliveries). The broker being down loses nothing:
    the rows are in the database and the periodic task sends them."""
    try:
        deliver_webhooks.delay()
    except Exception:  # noqa: BLE001
        logger.warning("Could not queue webhook delivery; the periodic task will send it.", exc_info=True)
