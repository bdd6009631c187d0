"""The nurture engine: claim due enrollments, run their steps, write every effect once.

A tick claims up to ``BATCH`` active enrollments whose ``next_run_at`` has come, with ``SELECT … FOR
UPDATE SKIP LOCKED`` (so several workers share the work without waiting for each other), and runs each
one's steps until it has to wait (a wait step, a wait-until-event, a closed send window) or ends. All
effects of the batch — step-run log, outbox emails, sales tasks, notifications, tags, stage moves and
the enrollments' new positions — are written in the transaction that holds the claim:

* a worker that dies before the commit leaves nothing behind, and the rows are claimed again;
* after the commit, the enrollments point past the steps they ran, so nothing runs twice;
* each effect also carries a unique key built from the enrollment and its ``tick`` (the number of
  steps it has run): ``StepRun(enrollment, tick)``, ``OutboundEmail.key``, ``Task.dedupe_key``,
  ``Notification.dedupe_key`` — a second writer of the same step hits the key, not the recipient.

Emails are only *queued* here (the outbox); nurturing.delivery sends them after the commit.

The batch is set-based: the contacts, steps and whatever the conditions need are loaded with one
query per kind for the whole batch, and the writes are bulk statements.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from config.sql import update_rows
from funnel.models import Contact, Stage
from funnel.services import contact_move_stage_many
from funnel.signals import contacts_changed
from notifications.models import Notification
from notifications.services import notifications_create
from nurturing import emails
from nurturing.models import Enrollment, OutboundEmail, Sequence, Step, StepRun
from sales.models import Task
from scoring import decay
from scoring.models import ContactScore, ContactTopic, Event, ScoringSettings
from webhooks import events as webhook_events

logger = logging.getLogger(__name__)

BATCH = 500
# Steps one enrollment may run in one claim (branches only jump forward, so a sequence always ends;
# this only bounds the work of one claim for a very long sequence).
MAX_STEPS_PER_CLAIM = 50
# A step that raises is retried after 1, 4, 16 minutes; then the enrollment fails with the error.
MAX_ATTEMPTS = 4
TOPIC_MIN_WEIGHT = 0.5  # as the contact list's "interested in" filter
GRADE_ORDER = {"A": 4, "B": 3, "C": 2, "D": 1}

ENROLLMENT_COLUMNS = {
    "state": "varchar",
    "exit_reason": "varchar",
    "step_id": "integer",
    "next_run_at": "timestamptz",
    "tick": "integer",
    "waiting_since": "timestamptz",
    "attempts": "integer",
    "last_error": "varchar",
    "finished_at": "timestamptz",
}


def tick(*, limit: int = BATCH, now: datetime | None = None) -> int:
    """Run the due steps of up to ``limit`` enrollments; returns how many were claimed."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = list(
            Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=Enrollment.State.ACTIVE, next_run_at__lte=now, sequence__active=True)
            .order_by("next_run_at", "id")[:limit]
        )
        if claimed:
            batch = _Batch(claimed, now)
            batch.run()
            batch.write()
    return len(claimed)


# --- One batch ------------------------------------------------------------------------------------


@dataclass
class _Effects:
    """What the steps of one enrollment did, kept apart until it is known they all succeeded."""

    contact_id: int | None = None
    runs: list[StepRun] = field(default_factory=list)
    emails: list[OutboundEmail] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    tag_add: list[tuple[int, int]] = field(default_factory=list)
    tag_remove: list[tuple[int, int]] = field(default_factory=list)
    moves: list[tuple[Stage, str]] = field(default_factory=list)


class _Batch:
    def __init__(self, enrollments: list[Enrollment], now: datetime):
        self.enrollments = enrollments
        self.now = now
        sequence_ids = {e.sequence_id for e in enrollments}
        self.sequences = {s.pk: s for s in Sequence.objects.filter(pk__in=sequence_ids)}
        self.steps: dict[int, Step] = {}
        self.following: dict[int, Step | None] = {}
        by_sequence: dict[int, list[Step]] = defaultdict(list)
        for step in Step.objects.filter(sequence_id__in=sequence_ids).order_by("sequence_id", "position"):
            by_sequence[step.sequence_id].append(step)
            self.steps[step.pk] = step
        for steps in by_sequence.values():
            for here, there in zip(steps, [*steps[1:], None], strict=True):
                self.following[here.pk] = there
        self.stages = {s.pk: s for s in Stage.objects.all()}
        contact_ids = sorted({e.contact_id for e in enrollments if e.contact_id})
        self.contact_ids = contact_ids
        self.contacts = {
            c.pk: c for c in Contact.objects.filter(pk__in=contact_ids).select_related("company", "owner")
        }
        self._cache: dict[tuple, object] = {}
        waits = [e.waiting_since for e in enrollments if e.waiting_since is not None]
        self.earliest_wait = min(waits) if waits else now
        self.effects: list[_Effects] = []
        self.woken_tags: dict[int, set[int]] = defaultdict(set)  # tag → contacts (TAG_ADDED triggers)

    # --- running ------------------------------------------------------------------------------

    def run(self) -> None:
        for enrollment in self.enrollments:
            effects = _Effects(contact_id=enrollment.contact_id)
            saved = _snapshot(enrollment)
            try:
                self._advance(enrollment, effects)
            except Exception as exc:  # noqa: BLE001 — one broken step must not stop the others
                logger.exception("Nurture step failed (enrollment %s)", enrollment.pk)
                _restore(enrollment, saved)
                self._failed(enrollment, exc)
                continue
            self.effects.append(effects)

    def _advance(self, e: Enrollment, fx: _Effects) -> None:
        contact = self.contacts.get(e.contact_id) if e.contact_id else None
        sequence = self.sequences[e.sequence_id]
        for _i in range(MAX_STEPS_PER_CLAIM):
            if contact is None:
                return self._finish(e, Enrollment.State.EXITED, Enrollment.ExitReason.CONTACT_DELETED)
            if self._goal_reached(sequence, contact):
                return self._finish(e, Enrollment.State.EXITED, Enrollment.ExitReason.GOAL)
            step = self.steps.get(e.step_id) if e.step_id else None
            if step is None:
                return self._finish(e, Enrollment.State.COMPLETED)
            result = self._run_step(e, step, sequence, contact, fx)
            if result is _WAITING:
                return None
            target, detail, outcome = result
            fx.runs.append(
                StepRun(
                    enrollment_id=e.pk,
                    step_id=step.pk,
                    tick=e.tick,
                    kind=step.kind,
                    outcome=outcome,
                    detail=str(detail)[:500],
                    ran_at=self.now,
                )
            )
            e.tick += 1
            e.attempts = 0
            e.last_error = ""
            e.waiting_since = None
            if target is _END:
                return self._finish(e, Enrollment.State.COMPLETED)
            e.step_id = target.pk if target else None
            if step.kind == Step.Kind.WAIT:
                # The next step (or, after a last wait, the completion) is due when the wait is over.
                e.next_run_at = self.now + step.wait
                return None
            e.next_run_at = self.now
        return None  # the next claim continues

    def _run_step(self, e: Enrollment, step: Step, sequence: Sequence, contact: Contact, fx: _Effects):
        """``_WAITING`` (the enrollment waits; its ``next_run_at`` is set), or (next step | None for the
        one after this | _END, detail, outcome)."""
        kind = step.kind
        following = self.following.get(step.pk)
        key = f"n{e.pk}t{e.tick}"
        if kind == Step.Kind.EMAIL:
            opens = _window_opens(sequence, self.now)
            if opens is not None:
                e.next_run_at = opens  # deferred to the window, never dropped
                return _WAITING
            if not contact.consent_email or not contact.email:
                return following, _("not sent: no email consent"), StepRun.Outcome.SKIPPED
            composed = emails.compose(step.template, contact, key=key)
            fx.emails.append(
                OutboundEmail(
                    key=key,
                    enrollment_id=e.pk,
                    contact_id=contact.pk,
                    template_id=step.template_id,
                    to=contact.email,
                    subject=composed.subject,
                    body_text=composed.body_text,
                    body_html=composed.body_html,
                    next_attempt_at=self.now,
                )
            )
            return following, step.template.name if step.template_id else "", StepRun.Outcome.DONE
        if kind == Step.Kind.WAIT:
            return (
                following,
                _("until %(at)s") % {"at": (self.now + step.wait).isoformat()},
                StepRun.Outcome.DONE,
            )
        if kind == Step.Kind.WAIT_EVENT:
            if e.waiting_since is None:
                e.waiting_since = self.now
                e.next_run_at = self.now + step.wait
                return _WAITING
            if self._event_since(contact.pk, step.event_type_id, step.topic, e.waiting_since):
                return step.yes_step or following, _("event arrived"), StepRun.Outcome.DONE
            deadline = e.waiting_since + step.wait
            if self.now >= deadline:
                return step.no_step or following, _("timed out"), StepRun.Outcome.DONE
            e.next_run_at = deadline  # woken early by an unrelated event: keep waiting
            return _WAITING
        if kind == Step.Kind.BRANCH:
            holds = self._condition(step, contact)
            target = (step.yes_step or following) if holds else (step.no_step or following)
            return target, _("yes") if holds else _("no"), StepRun.Outcome.DONE
        if kind == Step.Kind.TASK:
            owner_id = contact.owner_id  # an unowned contact gets an owner in write(), for the batch at once
            fx.tasks.append(
                Task(
                    title=step.text,
                    contact_id=contact.pk,
                    owner_id=owner_id,
                    kind=Task.Kind.CALL,
                    source=Task.Source.SEQUENCE,
                    due_at=self.now + timedelta(hours=step.due_hours or 24),
                    note=_("From the sequence “%(name)s”.") % {"name": sequence.name},
                    dedupe_key=key,
                )
            )
            return following, step.text, StepRun.Outcome.DONE
        if kind == Step.Kind.NOTIFY:
            if not contact.owner_id:
                return following, _("the contact has no owner"), StepRun.Outcome.SKIPPED
            fx.notifications.append(
                Notification(
                    user_id=contact.owner_id,
                    kind="sequence",
                    title=step.text[:200],
                    body=_("%(contact)s, sequence “%(name)s”.") % {"contact": contact, "name": sequence.name},
                    contact_id=contact.pk,
                    dedupe_key=key,
                )
            )
            return following, step.text, StepRun.Outcome.DONE
        if kind == Step.Kind.MOVE_STAGE:
            stage = self.stages[step.stage_id]
            fx.moves.append((stage, _("sequence: %(name)s") % {"name": sequence.name}))
            contact.stage_id = stage.pk  # later goal checks of this claim see the new stage
            return following, stage.key, StepRun.Outcome.DONE
        if kind in (Step.Kind.ADD_TAG, Step.Kind.REMOVE_TAG):
            pair = (contact.pk, step.tag_id)
            (fx.tag_add if kind == Step.Kind.ADD_TAG else fx.tag_remove).append(pair)
            return following, "", StepRun.Outcome.DONE
        if kind == Step.Kind.END:
            return _END, "", StepRun.Outcome.DONE
        raise ValueError(f"unknown step kind {kind!r}")

    def _goal_reached(self, sequence: Sequence, contact: Contact) -> bool:
        if not sequence.goal_stage_id:
            return False
        return self.stages[contact.stage_id].position >= self.stages[sequence.goal_stage_id].position

    def _finish(self, e: Enrollment, state: str, reason: str = "") -> None:
        e.state = state
        e.exit_reason = reason
        e.step_id = None
        e.next_run_at = None
        e.waiting_since = None
        e.finished_at = self.now

    def _failed(self, e: Enrollment, exc: Exception) -> None:
        e.attempts += 1
        e.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if e.attempts >= MAX_ATTEMPTS:
            fx = _Effects(contact_id=e.contact_id)
            fx.runs.append(
                StepRun(
                    enrollment_id=e.pk,
                    step_id=e.step_id,
                    tick=e.tick,
                    kind=self.steps[e.step_id].kind if e.step_id in self.steps else Step.Kind.END,
                    outcome=StepRun.Outcome.FAILED,
                    detail=e.last_error,
                    ran_at=self.now,
                )
            )
            self.effects.append(fx)
            self._finish(e, Enrollment.State.FAILED, Enrollment.ExitReason.STEP_FAILED)
            e.last_error = fx.runs[0].detail
        else:
            e.next_run_at = self.now + timedelta(minutes=4 ** (e.attempts - 1))

    # --- what conditions need, loaded once per batch ---------------------------------------------

    def _cached(self, key: tuple, load):
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    def _condition(self, step: Step, contact: Contact) -> bool:
        condition, value = step.condition, step.condition_value
        if condition == Step.Condition.SCORE_GTE:
            return contact.score >= int(value)
        if condition == Step.Condition.FIT_GRADE:
            grades = self._cached(
                ("grades",),
                lambda: dict(
                    ContactScore.objects.filter(contact_id__in=self.contact_ids).values_list(
                        "contact_id", "fit_grade"
                    )
                ),
            )
            return GRADE_ORDER.get(grades.get(contact.pk, "D"), 1) >= GRADE_ORDER.get(value.upper(), 4)
        if condition == Step.Condition.STAGE_AT_LEAST:
            return self.stages[contact.stage_id].position >= self.stages[step.stage_id].position
        if condition == Step.Condition.EVENT_WITHIN:
            since = self.now - timedelta(days=int(value))
            seen = self._cached(
                ("event", step.event_type_id, since),
                lambda: set(
                    Event.objects.filter(
                        contact_id__in=self.contact_ids, type_id=step.event_type_id, occurred_at__gte=since
                    ).values_list("contact_id", flat=True)
                ),
            )
            return contact.pk in seen
        if condition == Step.Condition.TOPIC_INTEREST:
            half_life = self._cached(("half_life",), lambda: ScoringSettings.load().half_life_days)
            min_acc = TOPIC_MIN_WEIGHT * decay.growth(self.now, half_life)
            interested = self._cached(
                ("topic", step.topic),
                lambda: set(
                    ContactTopic.objects.filter(
                        contact_id__in=self.contact_ids, topic=step.topic, acc__gte=min_acc
                    ).values_list("contact_id", flat=True)
                ),
            )
            return contact.pk in interested
        if condition == Step.Condition.HAS_TAG:
            tagged = self._cached(
                ("tags",),
                lambda: set(
                    Contact.tags.through.objects.filter(contact_id__in=self.contact_ids).values_list(
                        "contact_id", "tag_id"
                    )
                ),
            )
            return (contact.pk, step.tag_id) in tagged
        raise ValueError(f"unknown condition {condition!r}")

    def _event_since(self, contact_id: int, type_id: int, topic: str, since: datetime) -> bool:
        latest = self._cached(
            ("wait_event", type_id, topic),
            lambda: dict(
                Event.objects.filter(
                    contact_id__in=self.contact_ids,
                    type_id=type_id,
                    occurred_at__gte=self.earliest_wait,
                    **({"topic": topic} if topic else {}),
                )
                .values_list("contact_id")
                .annotate(last=Max("occurred_at"))
                .order_by()
            ),
        )
        last = latest.get(contact_id)
        return last is not None and last >= since

    # --- writing ----------------------------------------------------------------------------------

    def write(self) -> None:
        runs, outbox, tasks, notes, tag_add, tag_remove = [], [], [], [], set(), set()
        moves: dict[int, list[tuple[Stage, str]]] = defaultdict(list)
        for fx in self.effects:
            runs += fx.runs
            outbox += fx.emails
            tasks += fx.tasks
            notes += fx.notifications
            tag_add.update(fx.tag_add)
            tag_remove.update(fx.tag_remove)
            if fx.moves and fx.contact_id:
                moves[fx.contact_id] += fx.moves
        # Unique keys: a row that exists already is the same effect written before — skipped.
        StepRun.objects.bulk_create(runs, batch_size=1000, ignore_conflicts=True)
        if outbox:
            OutboundEmail.objects.bulk_create(outbox, batch_size=500, ignore_conflicts=True)
            from nurturing.tasks import queue_delivery

            transaction.on_commit(queue_delivery)
        if tasks:
            unowned = [t for t in tasks if t.owner_id is None]
            if unowned:
                from nurturing.services import contacts_assign_owners

                owners = contacts_assign_owners(contact_ids=[t.contact_id for t in unowned])
                for task in unowned:
                    task.owner_id = owners.get(task.contact_id)
            Task.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
            webhook_events.tasks_created(tasks)
        if notes:
            notifications_create(notifications=notes)
        self._write_tags(tag_add, tag_remove)
        if moves:
            contact_move_stage_many(moves=dict(moves), reason=_("nurture sequence"))
        update_rows(
            Enrollment,
            "id",
            ENROLLMENT_COLUMNS,
            [(e.pk, *(getattr(e, name) for name in ENROLLMENT_COLUMNS)) for e in self.enrollments],
        )
        webhook_events.enrollments_exited([e for e in self.enrollments if e.state == Enrollment.State.EXITED])

    def _write_tags(self, add: set[tuple[int, int]], remove: set[tuple[int, int]]) -> None:
        through = Contact.tags.through
        changed: set[int] = set()
        if add:
            through.objects.bulk_create(
                [through(contact_id=c, tag_id=t) for c, t in sorted(add)], ignore_conflicts=True
            )
            changed.update(c for c, _t in add)
            for contact_id, tag_id in add:
                self.woken_tags[tag_id].add(contact_id)
        for tag_id in {t for _c, t in remove}:
            contact_ids = [c for c, t in remove if t == tag_id]
            through.objects.filter(tag_id=tag_id, contact_id__in=contact_ids).delete()
            changed.update(contact_ids)
        if changed:
            # Tags feed fit scores and the "tag added" trigger of other sequences.
            transaction.on_commit(
                partial(contacts_changed.send, sender=Contact, contact_ids=sorted(changed), company_id=None)
            )
        if self.woken_tags:
            from nurturing.triggers import tags_added

            transaction.on_commit(partial(tags_added, pairs=dict(self.woken_tags)))


_WAITING = object()
_END = object()


def _snapshot(e: Enrollment) -> dict:
    return {name: getattr(e, name) for name in ENROLLMENT_COLUMNS}


def _restore(e: Enrollment, saved: dict) -> None:
    for name, value in saved.items():
        setattr(e, name, value)


# --- Send windows ---------------------------------------------------------------------------------


def _window_opens(sequence: Sequence, now: datetime) -> datetime | None:
    """None when the sequence may send at ``now``; else when its send window next opens.

    No times set means no window. Times are wall-clock times in the sequence's time zone on the
    chosen weekdays (all days when none are chosen)."""
    if sequence.window_start is None or sequence.window_end is None:
        return None
    tz = zoneinfo.ZoneInfo(sequence.time_zone)
    local = now.astimezone(tz)
    days = {int(d) for d in sequence.window_days} or set(range(1, 8))
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.isoweekday() not in days:
            continue
        start = datetime.combine(day, sequence.window_start, tzinfo=tz)
        end = datetime.combine(day, sequence.window_end, tzinfo=tz)
        if local < start:
            return start
        if local < end:
            return None
    # Unreachable with at least one weekday; keep the step rather than lose it.
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
