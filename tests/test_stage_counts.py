"""The live stage counts kept by database triggers must equal a real COUNT, whatever wrote the rows."""

import pytest
from django.db import connection

from funnel.models import Contact, StageCountDelta
from funnel.selectors import stage_contact_counts, stage_list_with_counts
from funnel.services import (
    contact_create,
    contact_delete,
    contact_move_stage,
    stage_counts_compact,
    stage_counts_rebuild,
)
from tests.factories import ContactFactory, stage

pytestmark = pytest.mark.django_db


def real_counts() -> dict[int, int]:
    counts = {}
    for stage_id in Contact.objects.values_list("stage_id", flat=True):
        counts[stage_id] = counts.get(stage_id, 0) + 1
    return counts


def live_counts() -> dict[int, int]:
    return {k: v for k, v in stage_contact_counts().items() if v}


def test_counts_follow_creates_moves_and_deletes():
    a = contact_create(email="a@example.com")
    b = contact_create(email="b@example.com", stage=stage("lead"))
    ContactFactory.create_batch(3, stage=stage("customer"))
    contact_move_stage(contact=a, stage=stage("prospect"))
    contact_delete(contact=b)
    assert live_counts() == real_counts() == {stage("prospect").pk: 1, stage("customer").pk: 3}


def test_counts_follow_bulk_writes_that_bypass_services():
    ContactFactory.create_batch(5)
    Contact.objects.bulk_create(
        [Contact(stage=stage("lead"), email=f"bulk{i}@example.com") for i in range(7)]
    )
    Contact.objects.filter(stage=stage("lead")).update(stage=stage("reference"))
    Contact.objects.filter(pk__in=Contact.objects.filter(stage=stage("suspect")).values("pk")[:2]).delete()
    # Score updates touch other columns and must not change any count.
    Contact.objects.update(score=42)
    assert live_counts() == real_counts() == {stage("suspect").pk: 3, stage("reference").pk: 7}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is the PostgreSQL bulk path")
def test_counts_follow_copy():
    lead = stage("lead")
    rows = "".join(f"copy{i}@example.com\t{lead.pk}\tf\t{{}}\t0\t0\t0\tnow\tnow\t\t\t\t\n" for i in range(4))
    import io

    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            "COPY funnel_contact (email, stage_id, consent_email, properties, score, fit_score, "
            "engagement_score, created_at, updated_at, first_name, last_name, phone, job_title) FROM STDIN",
            io.StringIO(rows),
        )
    assert live_counts() == real_counts() == {lead.pk: 4}


def test_compaction_keeps_the_counts_and_folds_the_rows():
    ContactFactory.create_batch(4)
    ContactFactory.create_batch(2, stage=stage("lead"))
    before = live_counts()
    assert StageCountDelta.objects.count() == 6
    assert stage_counts_compact() == 6
    assert StageCountDelta.objects.count() == 2
    assert live_counts() == before == real_counts()


def test_rebuild_repairs_drift():
    ContactFactory.create_batch(3)
    StageCountDelta.objects.create(stage=stage("lead"), delta=99)  # drift, e.g. a restored dump
    stage_counts_rebuild()
    assert live_counts() == real_counts() == {stage("suspect").pk: 3}


def test_funnel_list_carries_counts_and_shares():
    ContactFactory.create_batch(3)
    ContactFactory(stage=stage("lead"))
    stages = {s.key: s for s in stage_list_with_counts()}
    assert (stages["suspect"].contact_count, stages["suspect"].share) == (3, 0.75)
    assert (stages["reference"].contact_count, stages["reference"].share) == (0, 0.0)
