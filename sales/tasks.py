"""Celery tasks of the sales workspace (the schedule is in settings). Thin and safe to run twice."""

from celery import shared_task

from sales import services


@shared_task(ignore_result=True)
def send_daily_digests() -> int:
    """Email each sales rep the overdue tasks and today's (once a day; see ``services.digests_send``)."""
    return services.digests_send()


@shared_task(ignore_result=True)
def sweep_threshold_tasks() -> int:
    """Create call tasks for recent threshold crossings that have none (see the service)."""
    return services.threshold_tasks_sweep()
