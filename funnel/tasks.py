"""Celery tasks of the funnel app: thin wrappers over services, safe to run twice."""

from celery import shared_task

from funnel.services import stage_counts_compact


@shared_task(ignore_result=True)
def compact_stage_counts() -> int:
    return stage_counts_compact()
