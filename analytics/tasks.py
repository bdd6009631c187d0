"""Celery tasks of the analytics app: thin wrappers, safe to run twice (a fold claims what it folds)."""

from celery import shared_task

from analytics.fold import fold_pending


@shared_task(ignore_result=True)
def fold_transitions() -> int:
    return fold_pending()
