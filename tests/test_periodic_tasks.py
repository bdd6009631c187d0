import pytest
from django.conf import settings

from config.celery import app
from funnel.models import StageCountDelta
from funnel.selectors import stage_contact_counts
from funnel.tasks import compact_stage_counts
from tests.factories import ContactFactory, stage


def test_every_scheduled_task_exists():
    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE, "nothing is scheduled"
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, f"{name} schedules an unknown task {entry['task']}"


@pytest.mark.django_db
def test_compact_stage_counts_task_is_safe_to_run_twice():
    ContactFactory.create_batch(3)
    ContactFactory(stage=stage("lead"))
    before = stage_contact_counts()
    assert compact_stage_counts() == 4
    assert compact_stage_counts() == 2  # folds its own two rows again: same sums
    assert stage_contact_counts() == before
    assert StageCountDelta.objects.count() == 2
