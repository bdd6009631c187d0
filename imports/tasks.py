"""Celery tasks of the imports app: thin wrappers over imports.services (schedule in settings)."""

from celery import shared_task


@shared_task(ignore_result=True)
def run_import(job_id: int) -> bool:
    """Work on an import for a time budget, then queue itself again. Safe to run twice: a done or
    failed job does nothing, and batches are serialised by a lock on the job row."""
    from imports.services import TASK_BUDGET_SECONDS, enqueue, import_run

    more = import_run(job_id=int(job_id), budget_seconds=TASK_BUDGET_SECONDS)
    if more:
        enqueue(int(job_id))
    return more


@shared_task(ignore_result=True)
def resume_stalled_imports() -> int:
    """Queue imports whose worker died or whose task never arrived."""
    from imports.services import import_resume_stalled

    return len(import_resume_stalled())
