"""Celery tasks of nurturing: thin wrappers over the engine and the outbox (the periodic schedule is in
settings). Each is safe to run twice and on several workers at once: the work is claimed row by row
with ``SELECT … FOR UPDATE SKIP LOCKED``, and every effect has a unique key."""

import logging

from celery import shared_task

from nurturing import delivery, engine

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def run_due_steps(max_batches: int = 20) -> int:
    """Run the due steps of active enrollments in batches; the beat tick and ``queue_tick`` call it."""
    total = 0
    for _ in range(max(1, int(max_batches))):
        done = engine.tick()
        total += done
        if done < engine.BATCH:
            return total
    queue_tick()  # more is due: continue in a new task, so one run never holds a worker for long
    return total


@shared_task(ignore_result=True)
def deliver_emails(max_batches: int = 20) -> int:
    """Send queued nurture emails (and retry due ones) in batches."""
    total = 0
    for _ in range(max(1, int(max_batches))):
        done = delivery.deliver()
        total += done
        if done < delivery.BATCH:
            return total
    queue_delivery()
    return total


@shared_task(ignore_result=True)
def sweep_fast_lane() -> int:
    """Fast-lane requests of the last day that reached no sales rep (see triggers.fast_lane_sweep)."""
    from nurturing.triggers import fast_lane_sweep

    return fast_lane_sweep()


def _queue(task) -> None:
    try:
        task.delay()
    except Exception:  # noqa: BLE001 — the broker is down: the beat tick picks the rows up later
        logger.warning("Could not queue %s; the periodic tick will run it.", task.name, exc_info=True)


def queue_tick() -> None:
    """Ask a worker to run due steps now (called on commit of new enrollments or woken waits)."""
    _queue(run_due_steps)


def queue_delivery() -> None:
    _queue(deliver_emails)
