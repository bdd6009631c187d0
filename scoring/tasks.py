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


@shared_task(ignore_result=True)
def recompute_fit(contact_ids: list[int] | None = None, company_id: int | None = None) -> int:
    """Recompute fit scores of the given contacts, or of every contact of a company, in batches."""
    from funnel.models import Contact
    from scoring.services import fit_recompute

    if contact_ids is None:
        if company_id is None:
            return 0
        contact_ids = list(Contact.objects.filter(company_id=company_id).values_list("pk", flat=True))
    ids = [int(i) for i in contact_ids]
    for start in range(0, len(ids), 1000):
        fit_recompute(contact_ids=ids[start : start + 1000])
    return len(ids)


@shared_task(ignore_result=True)
def rebuild_scores(job_id: int) -> bool:
    """Work on a score rebuild for a time budget, then queue itself again (see scoring.rebuild).
    Safe to run twice: a second worker skips a job another one holds; a finished job does nothing."""
    from scoring.rebuild import TASK_BUDGET_SECONDS, _enqueue, rebuild_run

    more = rebuild_run(job_id=int(job_id), budget_seconds=TASK_BUDGET_SECONDS)
    if more:
        _enqueue(int(job_id))
    return more


@shared_task(ignore_result=True)
def resume_score_rebuilds() -> int:
    """Queue score rebuilds no worker is on (the broker was down when they were requested, a worker
    died mid-way); they continue after their last committed batch."""
    from scoring.rebuild import rebuild_resume

    return len(rebuild_resume())
