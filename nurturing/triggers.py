"""What starts and ends enrollments from outside a sequence: entry triggers, goals, the sales fast
lane, unsubscribes and bounces. Called by the receivers (nurturing.receivers) after the change that
caused them has committed, and by the engine for tags its own steps add.

Each function is safe to run twice: ``enroll`` skips contacts already in a sequence, exits are
guarded by the enrollment's state, fast-lane tasks are keyed by the event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from funnel.models import Contact, Stage
from nurturing.models import Enrollment, Sequence, Step
from nurturing.services import enroll, enrollments_exit, fast_lane
from sales.models import Task
from scoring.models import Event, EventType

logger = logging.getLogger(__name__)


def _enroll_quietly(sequence: Sequence, contact_ids: Iterable[int]) -> None:
    ids = list(contact_ids)
    if not ids:
        return
    try:
        enroll(sequence=sequence, contact_ids=ids)
    except ValidationError:
        # Deactivated (or emptied) between our query and the enrollment: a trigger enrolls nobody then.
        logger.info("Sequence %s no longer takes contacts; trigger ignored.", sequence.pk)


@transaction.atomic
def stage_entered(*, contact_id: int, stage_key: str) -> None:
    """End enrollments whose goal stage the contact reached; enter sequences triggered by the stage."""
    stage = Stage.objects.filter(key=stage_key).first()
    if stage is None:
        return
    reached = Enrollment.objects.filter(
        state=Enrollment.State.ACTIVE,
        contact_id=contact_id,
        sequence__goal_stage__position__lte=stage.position,
    ).values_list("pk", flat=True)
    enrollments_exit(reason=Enrollment.ExitReason.GOAL, enrollment_ids=list(reached))
    for sequence in Sequence.objects.filter(
        active=True, trigger=Sequence.Trigger.STAGE_ENTERED, trigger_stage=stage
    ):
        _enroll_quietly(sequence, [contact_id])


def events_applied(*, events: list[tuple[int, int, int, str]], now: datetime | None = None) -> None:
    """React to scored events: the fast lane, event-triggered sequences, and enrollments waiting for
    such an event (woken now instead of at their timeout)."""
    if not events:
        return
    type_ids = {t for _e, _c, t, _topic in events}
    types = {t.pk: t for t in EventType.objects.filter(pk__in=type_ids)}
    out: set[int] = set()  # contacts that went to sales through the fast lane
    for event_id, contact_id, type_id, _topic in events:
        kind = types.get(type_id)
        if kind is None or contact_id in out:
            continue
        if kind.fast_lane:
            fast_lane(contact_id=contact_id, event_id=event_id, type_name=kind.name)
            out.add(contact_id)
    with transaction.atomic():
        for sequence in Sequence.objects.filter(
            active=True, trigger=Sequence.Trigger.EVENT, trigger_event_type_id__in=type_ids
        ):
            _enroll_quietly(
                sequence,
                sorted(
                    {
                        c
                        for _e, c, t, topic in events
                        if t == sequence.trigger_event_type_id
                        and (not sequence.trigger_topic or topic == sequence.trigger_topic)
                        and c not in out
                    }
                ),
            )
        woken = Enrollment.objects.filter(
            state=Enrollment.State.ACTIVE,
            contact_id__in={c for _e, c, _t, _topic in events},
            waiting_since__isnull=False,
            step__kind=Step.Kind.WAIT_EVENT,
            step__event_type_id__in=type_ids,
        ).update(next_run_at=now or timezone.now())
        if woken:
            from nurturing.tasks import queue_tick

            transaction.on_commit(queue_tick)


@transaction.atomic
def scores_changed(*, contact_ids: list[int]) -> None:
    """Enter sequences whose trigger score these contacts have reached."""
    for sequence in Sequence.objects.filter(active=True, trigger=Sequence.Trigger.SCORE_REACHED):
        reached = Contact.objects.filter(pk__in=contact_ids, score__gte=sequence.trigger_score)
        _enroll_quietly(sequence, reached.values_list("pk", flat=True))


@transaction.atomic
def tags_added(*, pairs: dict[int, Iterable[int]]) -> None:
    """Enter sequences triggered by a tag; ``pairs`` maps tag id → contact ids that just got it."""
    for sequence in Sequence.objects.filter(
        active=True, trigger=Sequence.Trigger.TAG_ADDED, trigger_tag_id__in=list(pairs)
    ):
        _enroll_quietly(sequence, sorted(pairs[sequence.trigger_tag_id]))


def contacts_deleted(*, contact_ids: list[int]) -> None:
    enrollments_exit(reason=Enrollment.ExitReason.CONTACT_DELETED, contact_ids=contact_ids)


def fast_lane_sweep(*, now: datetime | None = None, within: timedelta = timedelta(days=1)) -> int:
    """Hand to sales the last day's fast-lane requests that never reached ``events_applied`` (its
    receivers run after scoring's commit; a worker dying in between would lose them). A request
    counts as handled when its own task exists, or when the contact got a fast-lane task since it
    arrived (one task per contact and batch, as ``events_applied`` does). Returns the tasks created."""
    now = now or timezone.now()
    events = list(
        Event.objects.filter(
            type__fast_lane=True,
            contact__isnull=False,
            applied_at__isnull=False,
            received_at__gte=now - within,
        )
        .order_by("received_at", "id")
        .values_list("id", "contact_id", "type__name", "received_at")
    )
    if not events:
        return 0
    keyed = set(
        Task.objects.filter(dedupe_key__in=[f"fastlane:{e[0]}" for e in events]).values_list(
            "dedupe_key", flat=True
        )
    )
    latest: dict[int, datetime] = dict(
        Task.objects.filter(source=Task.Source.FAST_LANE, contact_id__in={e[1] for e in events})
        .values_list("contact_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    created = 0
    for event_id, contact_id, type_name, received_at in events:
        if f"fastlane:{event_id}" in keyed or (contact_id in latest and latest[contact_id] >= received_at):
            continue
        if fast_lane(contact_id=contact_id, event_id=event_id, type_name=type_name, now=now):
            created += 1
            latest[contact_id] = now
    return created
