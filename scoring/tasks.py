"""Celery tasks of the scoring app: thin, idempotent wrappers over services (see settings for the
periodic schedule)."""

from celery import shared_task

from scoring.services import APPLY_BATCH, events_apply_pending, scores_refresh_due


@shared_task(ignore_result=True)
def apply_pending_events(max_batches: int = 50) -> int:
    """Apply stored events in batches until none are pending (or ``max_batches`` ran; then the next
    call or the periodic sweep continues). Safe to run on several workers at once."""
    total = 0
    for _ in range(max(1, int(max_batches))):
        claimed = events_apply_pending(limit=APPLY_BATCH)
        total += claimed
        if claimed < APPLY_BATCH:
            break
    return total


@shared_task(ignore_result=True)
def refresh_due_scores() -> int:
    """Store decayed scores whose shown value changed since they were last stored."""
    total = 0
    while done := scores_refresh_due():
        total += done
        if done < 5000:
            break
    return total
