"""Celery tasks of the customers app: thin, idempotent wrappers over services (the periodic schedule
is in settings)."""

from celery import shared_task

from customers import selectors
from customers.services import signals_detect

SWEEP_BATCH = 2000
# One run works through this many batches, then queues itself for the rest: a long sweep does not hold
# one worker for its whole length, and each part starts after the last contact id the previous one did.
SWEEP_BATCHES_PER_RUN = 25


@shared_task(ignore_result=True)
def detect_signals_sweep(after_id: int = 0, max_batches: int = SWEEP_BATCHES_PER_RUN) -> int:
    """Run the detector over every customer interested in a product's topics, in batches of contact
    ids; returns how many signals this run raised.

    Events trigger the detector as they come (customers.receivers); this sweep notices what no event
    announces — a topic added to a product later, or a contact who becomes a customer after showing
    interest. Safe to run twice or on two workers at once: the detector raises at most one open signal
    per contact and product, and none for a pair decided lately.
    """
    after_id, raised = int(after_id), 0
    for _ in range(max(1, int(max_batches))):
        ids = selectors.sweep_contact_ids(after_id=after_id, limit=SWEEP_BATCH)
        if ids:
            raised += len(signals_detect(contact_ids=ids))
            after_id = ids[-1]
        if len(ids) < SWEEP_BATCH:
            return raised
    detect_signals_sweep.delay(after_id=after_id, max_batches=max_batches)
    return raised


@shared_task(ignore_result=True)
def check_consumption() -> dict:
    """Flag customers who do not use what they bought (once per spell; see customers.consumption)."""
    from customers.consumption import consumption_check

    return consumption_check()


@shared_task(ignore_result=True)
def create_delight_tasks() -> int:
    """Delight tasks for customers' coming occasions (once per occasion and year)."""
    from customers.references import delight_tasks_create

    return delight_tasks_create()
