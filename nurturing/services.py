"""Write-side logic of nurturing: building sequences, enrolling and ending enrollments, consent, the
sales fast lane. Views, the API, receivers and the engine call these; none of them writes models
directly.

Validation errors are ``django.core.exceptions.ValidationError`` (field → messages where a field is
to blame), so forms and serializers can show them next to the field.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import SALES
from audit.models import Action
from audit.services import audit_record
from funnel.models import Contact
from notifications.models import Notification
from notifications.services import notifications_create
from nurturing.models import (
    MAX_WAIT,
    ConsentChange,
    EmailTemplate,
    Enrollment,
    NurtureSettings,
    Sequence,
    Step,
)
from sales.models import Task
from webhooks import events as webhook_events

# A manual enrollment of a filtered list takes at most this many contacts at once.
ENROLL_MAX = 100_000

STEP_FIELDS = (
    "kind",
    "template",
    "wait",
    "event_type",
    "topic",
    "condition",
    "condition_value",
    "yes_step",
    "no_step",
    "stage",
    "tag",
    "text",
    "due_hours",
)
# Which fields each kind uses; the others are cleared on save so a step never carries stale values.
KIND_FIELDS = {
    Step.Kind.EMAIL: {"template"},
    Step.Kind.WAIT: {"wait"},
    Step.Kind.WAIT_EVENT: {"wait", "event_type", "topic", "yes_step", "no_step"},
    Step.Kind.BRANCH: {
        "condition",
        "condition_value",
        "event_type",
        "topic",
        "stage",
        "tag",
        "yes_step",
        "no_step",
    },
    Step.Kind.TASK: {"text", "due_hours"},
    Step.Kind.MOVE_STAGE: {"stage"},
    Step.Kind.ADD_TAG: {"tag"},
    Step.Kind.REMOVE_TAG: {"tag"},
    Step.Kind.NOTIFY: {"text"},
    Step.Kind.END: set(),
}
_EMPTY = {
    "template": None,
    "wait": None,
    "event_type": None,
    "topic": "",
    "condition": "",
    "condition_value": "",
    "yes_step": None,
    "no_step": None,
    "stage": None,
    "tag": None,
    "text": "",
    "due_hours": None,
}
GRADES = ("A", "B", "C", "D")


# --- Templates ------------------------------------------------------------------------------------


def template_save(*, template: EmailTemplate | None = None, **fields) -> EmailTemplate:
    """Create (``template`` None) or update an email template; placeholders are checked."""
    from nurturing.emails import template_problems

    template = template or EmailTemplate()
    for name, value in fields.items():
        setattr(template, name, value)
    template.full_clean()
    problems = template_problems(template)
    if problems:
        raise ValidationError(problems)
    template.save()
    return template


def template_delete(*, template: EmailTemplate) -> None:
    if template.steps.exists():
        raise ValidationError(_("This template is used by sequence steps; change those steps first."))
    template.delete()


# --- Sequences and steps --------------------------------------------------------------------------


def _clean_sequence(sequence: Sequence) -> None:
    errors: dict[str, list[str]] = {}
    trigger = sequence.trigger
    needs = {
        Sequence.Trigger.STAGE_ENTERED: (
            "trigger_stage",
            _("Choose the stage whose entry starts the sequence."),
        ),
        Sequence.Trigger.SCORE_REACHED: ("trigger_score", _("Enter the score that starts the sequence.")),
        Sequence.Trigger.EVENT: ("trigger_event_type", _("Choose the event type that starts the sequence.")),
        Sequence.Trigger.TAG_ADDED: ("trigger_tag", _("Choose the tag that starts the sequence.")),
    }
    if trigger in needs:
        name, message = needs[trigger]
        if getattr(sequence, name) in (None, ""):
            errors.setdefault(name, []).append(message)
    if sequence.reentry == Sequence.Reentry.AFTER_DAYS and not sequence.reentry_days:
        errors.setdefault("reentry_days", []).append(
            _("Enter after how many days a contact may enter again.")
        )
    if (sequence.window_start is None) != (sequence.window_end is None):
        errors.setdefault("window_end", []).append(_("Give both ends of the send window, or neither."))
    elif sequence.window_start is not None and sequence.window_start >= sequence.window_end:
        errors.setdefault("window_end", []).append(_("The send window must end after it starts."))
    days = sequence.window_days or ""
    if any(c not in "1234567" for c in days) or len(set(days)) != len(days):
        errors.setdefault("window_days", []).append(
            _("Weekdays are the digits 1 (Monday) to 7 (Sunday), each once.")
        )
    elif sequence.window_start is not None and not days:
        errors.setdefault("window_days", []).append(_("A send window needs at least one weekday."))
    try:
        zoneinfo.ZoneInfo(sequence.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        errors.setdefault("time_zone", []).append(_("Unknown time zone."))
    if errors:
        raise ValidationError(errors)


def sequence_save(*, sequence: Sequence | None = None, by=None, **fields) -> Sequence:
    """Create (``sequence`` None) or update a sequence's settings. An active sequence stays valid:
    a change that would break it is refused (deactivate first to rebuild it freely)."""
    creating = sequence is None
    sequence = sequence or Sequence(created_by=by)
    fields.pop("active", None)  # only sequence_activate / sequence_deactivate switch it
    for name, value in fields.items():
        setattr(sequence, name, value)
    if sequence.window_days:
        sequence.window_days = "".join(sorted(sequence.window_days))
    sequence.full_clean()
    _clean_sequence(sequence)
    if not creating and sequence.active:
        problems = sequence_problems(sequence)
        if problems:
            raise ValidationError(problems)
    with transaction.atomic():
        sequence.save()
        _audit(by, sequence.pk, "created" if creating else "updated", fields=sorted(fields))
    return sequence


def _audit(by, sequence_id: int, change: str, **details) -> None:
    audit_record(
        actor=by,
        action=Action.SEQUENCE_CHANGED,
        target_type="nurturing.sequence",
        target_id=sequence_id,
        change=change,
        **details,
    )


def sequence_problems(sequence: Sequence) -> list[str]:
    """Why this sequence cannot run (empty when it can): it is checked on activation and on every
    edit of an active sequence."""
    problems: list[str] = []
    try:
        _clean_sequence(sequence)
    except ValidationError as exc:
        problems.extend(m for messages in exc.message_dict.values() for m in messages)
    steps = list(sequence.steps.order_by("position"))
    if not steps:
        problems.append(_("The sequence has no steps."))
    for step in steps:
        try:
            _clean_step(step, steps)
        except ValidationError as exc:
            for messages in exc.message_dict.values():
                problems.extend(
                    _("Step %(n)s: %(problem)s") % {"n": step.position, "problem": m} for m in messages
                )
    return problems


@transaction.atomic
def sequence_activate(*, sequence: Sequence, by=None) -> Sequence:
    sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
    problems = sequence_problems(sequence)
    if problems:
        raise ValidationError(problems)
    if not sequence.active:
        sequence.active = True
        sequence.save(update_fields=["active", "updated_at"])
        _audit(by, sequence.pk, "activated")
    return sequence


@transaction.atomic
def sequence_deactivate(*, sequence: Sequence, by=None) -> Sequence:
    """Stop new entries and pause the enrollments (they resume where they were on reactivation)."""
    sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
    if sequence.active:
        sequence.active = False
        sequence.save(update_fields=["active", "updated_at"])
        _audit(by, sequence.pk, "deactivated")
    return sequence


@transaction.atomic
def sequence_delete(*, sequence: Sequence, by=None) -> None:
    if sequence.active:
        raise ValidationError(_("Deactivate the sequence before deleting it."))
    if sequence.enrollments.filter(state=Enrollment.State.ACTIVE).exists():
        raise ValidationError(_("Contacts are still in this sequence; end their enrollments first."))
    # Finished enrollments may still point at a step, and branches at other steps: both PROTECT,
    # which blocks the cascade even though those rows go too.
    Enrollment.objects.filter(sequence=sequence, step__isnull=False).update(step=None)
    Step.objects.filter(sequence=sequence).filter(
        Q(yes_step__isnull=False) | Q(no_step__isnull=False)
    ).update(yes_step=None, no_step=None)
    _audit(by, sequence.pk, "deleted")
    sequence.delete()


def _clean_step(step: Step, steps: list[Step] | None = None) -> None:
    """Field errors of one step for its kind; ``steps`` (the sequence's steps) checks branch targets."""
    errors: dict[str, list[str]] = {}

    def error(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    kind = step.kind
    if kind not in Step.Kind.values:
        error("kind", _("Unknown step kind."))
        raise ValidationError(errors)
    if kind == Step.Kind.EMAIL and step.template_id is None:
        error("template", _("Choose the email template to send."))
    if kind in (Step.Kind.WAIT, Step.Kind.WAIT_EVENT):
        if step.wait is None:
            error("wait", _("Enter how long to wait."))
        elif step.wait <= timedelta(0):
            error("wait", _("The wait must be longer than zero."))
        elif step.wait > MAX_WAIT:
            error("wait", _("The wait can be at most 365 days."))
    if kind == Step.Kind.WAIT_EVENT and step.event_type_id is None:
        error("event_type", _("Choose the event type to wait for."))
    if kind == Step.Kind.BRANCH:
        _clean_condition(step, error)
    if kind == Step.Kind.TASK and not step.text.strip():
        error("text", _("Enter the task's title."))
    if kind == Step.Kind.TASK and not step.due_hours:
        error("due_hours", _("Enter within how many hours the task is due."))
    if kind == Step.Kind.NOTIFY and not step.text.strip():
        error("text", _("Enter the message for the owner."))
    if kind == Step.Kind.MOVE_STAGE and step.stage_id is None:
        error("stage", _("Choose the stage to move the contact to."))
    if kind in (Step.Kind.ADD_TAG, Step.Kind.REMOVE_TAG) and step.tag_id is None:
        error("tag", _("Choose the tag."))
    if kind in (Step.Kind.BRANCH, Step.Kind.WAIT_EVENT):
        by_id = {s.pk: s for s in (steps if steps is not None else step.sequence.steps.all())}
        for name in ("yes_step", "no_step"):
            target_id = getattr(step, f"{name}_id")
            if target_id is None:
                continue
            target = by_id.get(target_id)
            if target is None:
                error(name, _("The step to go to is not in this sequence."))
            elif target.position <= step.position:
                error(name, _("A branch can only go to a later step."))
    if errors:
        raise ValidationError(errors)


def _clean_condition(step: Step, error) -> None:
    condition, value = step.condition, (step.condition_value or "").strip()
    if condition not in Step.Condition.values:
        error("condition", _("Choose a condition."))
        return
    if condition in (Step.Condition.SCORE_GTE, Step.Condition.EVENT_WITHIN):
        if not value.lstrip("-").isdigit():
            error("condition_value", _("Enter a whole number."))
        elif condition == Step.Condition.EVENT_WITHIN and not 1 <= int(value) <= 3650:
            error("condition_value", _("Enter a number of days from 1 to 3650."))
    if condition == Step.Condition.FIT_GRADE and value.upper() not in GRADES:
        error("condition_value", _("Enter a fit grade: A, B, C or D."))
    if condition == Step.Condition.STAGE_AT_LEAST and step.stage_id is None:
        error("stage", _("Choose the stage."))
    if condition == Step.Condition.EVENT_WITHIN and step.event_type_id is None:
        error("event_type", _("Choose the event type."))
    if condition == Step.Condition.TOPIC_INTEREST and not step.topic.strip():
        error("topic", _("Enter the topic."))
    if condition == Step.Condition.HAS_TAG and step.tag_id is None:
        error("tag", _("Choose the tag."))


def _normalise_step(step: Step) -> None:
    used = KIND_FIELDS.get(step.kind, set())
    for name, empty in _EMPTY.items():
        if name not in used:
            setattr(step, name, empty)
    if step.kind == Step.Kind.BRANCH:
        if step.condition == Step.Condition.FIT_GRADE:
            step.condition_value = (step.condition_value or "").strip().upper()
        for name in ("stage", "tag", "event_type", "topic"):
            needed = {
                "stage": Step.Condition.STAGE_AT_LEAST,
                "tag": Step.Condition.HAS_TAG,
                "event_type": Step.Condition.EVENT_WITHIN,
                "topic": Step.Condition.TOPIC_INTEREST,
            }[name]
            if step.condition != needed:
                setattr(step, name, _EMPTY[name])


def _check_still_valid(sequence: Sequence) -> None:
    if sequence.active:
        problems = sequence_problems(sequence)
        if problems:
            raise ValidationError(problems)


@transaction.atomic
def step_save(
    *, sequence: Sequence, step: Step | None = None, position: int | None = None, by=None, **fields
) -> Step:
    """Create (``step`` None; appended, or inserted at ``position``) or update a step."""
    sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
    steps = list(sequence.steps.order_by("position"))
    if step is None:
        step = Step(sequence=sequence)
        if position is None or position > len(steps):
            step.position = len(steps) + 1
        else:
            step.position = max(1, int(position))
            _shift(sequence, from_position=step.position, by=1)
            for other in steps:
                if other.position >= step.position:
                    other.position += 1
    elif step.sequence_id != sequence.pk:
        raise ValidationError(_("The step is not in this sequence."))
    for name, value in fields.items():
        if name not in STEP_FIELDS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(step, name, value)
    if step.pk and step.enrollments.filter(state=Enrollment.State.ACTIVE).exists() and "kind" in fields:
        original = Step.objects.only("kind").get(pk=step.pk)
        if original.kind != step.kind:
            raise ValidationError({"kind": [_("Contacts are on this step; its kind cannot change now.")]})
    _normalise_step(step)
    _clean_step(step, [s for s in steps if s.pk != step.pk] + [step])
    step.save()
    _check_still_valid(sequence)
    _audit(by, sequence.pk, "step saved", step=step.position, kind=step.kind)
    return step


# (sequence, position) is unique and checked row by row, so renumbering goes through a parking range
# far above any real position: first every affected step moves up there, then to its new place.
_PARKING = 1_000_000


def _shift(sequence: Sequence, *, from_position: int, by: int) -> None:
    """Add ``by`` to the positions from ``from_position`` on (``by=0`` parks them for a reorder)."""
    affected = Step.objects.filter(sequence=sequence, position__gte=from_position, position__lt=_PARKING)
    affected.update(position=F("position") + _PARKING)
    if by:
        Step.objects.filter(sequence=sequence, position__gte=_PARKING).update(
            position=F("position") - _PARKING + by
        )


@transaction.atomic
def step_delete(*, step: Step, by=None) -> None:
    sequence = Sequence.objects.select_for_update().get(pk=step.sequence_id)
    if step.enrollments.filter(state=Enrollment.State.ACTIVE).exists():
        raise ValidationError(_("Contacts are on this step; it cannot be deleted while they are."))
    if Step.objects.filter(Q(yes_step=step) | Q(no_step=step)).exists():
        raise ValidationError(_("Another step goes to this one; change that step first."))
    # Finished enrollments may still point at it as their last step.
    Enrollment.objects.filter(step=step).update(step=None)
    position = step.position
    _audit(by, step.sequence_id, "step deleted", step=step.position, kind=step.kind)
    step.delete()
    _shift(sequence, from_position=position + 1, by=-1)
    _check_still_valid(sequence)


@transaction.atomic
def step_move(*, step: Step, position: int, by=None) -> Step:
    """Move a step to ``position`` (1-based), shifting the ones between."""
    sequence = Sequence.objects.select_for_update().get(pk=step.sequence_id)
    steps = list(sequence.steps.order_by("position"))
    position = max(1, min(int(position), len(steps)))
    ordered = [s for s in steps if s.pk != step.pk]
    ordered.insert(position - 1, next(s for s in steps if s.pk == step.pk))
    for index, item in enumerate(ordered, start=1):
        if item.position != index:
            item.position = index
    _shift(sequence, from_position=1, by=0)  # out of the way of the unique (sequence, position)
    Step.objects.bulk_update(ordered, ["position"])
    for item in ordered:
        try:
            _clean_step(item, ordered)
        except ValidationError as exc:
            raise ValidationError(
                _("Moving the step would break step %(n)s: %(problem)s")
                % {"n": item.position, "problem": " ".join(m for ms in exc.message_dict.values() for m in ms)}
            ) from exc
    _check_still_valid(sequence)
    _audit(by, step.sequence_id, "step moved", to=position)
    return next(s for s in ordered if s.pk == step.pk)


# --- Enrollment -----------------------------------------------------------------------------------


@dataclass
class EnrollResult:
    enrolled: list[int] = field(default_factory=list)  # contact ids
    already: list[int] = field(default_factory=list)  # already active in the sequence
    not_again: list[int] = field(default_factory=list)  # re-entry policy says no (yet)
    missing: list[int] = field(default_factory=list)  # no such contact


def enroll(
    *,
    sequence: Sequence,
    contact_ids: Iterable[int],
    by=None,
    now: datetime | None = None,
    manual: bool = False,
) -> EnrollResult:
    """Put contacts into a sequence at its first step, due now. Set-based: a few queries for any
    number of contacts. Contacts already active in it, or excluded by its re-entry policy, are
    skipped and reported; two concurrent enrollments of the same contact cannot both win (a partial
    unique index decides). ``manual`` enrollments need an active sequence just as triggers do."""
    now = now or timezone.now()
    ids = sorted({int(i) for i in contact_ids})
    result = EnrollResult()
    if not ids:
        return result
    if not sequence.active:
        raise ValidationError(_("The sequence is not active; activate it before enrolling contacts."))
    first = sequence.steps.order_by("position").first()
    if first is None:
        raise ValidationError(_("The sequence has no steps."))
    since = (
        None
        if sequence.reentry == Sequence.Reentry.NEVER
        else now - timedelta(days=sequence.reentry_days or 0)
    )
    existing, active, blocked = _enroll_status(sequence, ids, since)
    for i in ids:
        if i not in existing:
            result.missing.append(i)
        elif i in active:
            result.already.append(i)
        elif i in blocked:
            result.not_again.append(i)
    ids = [i for i in ids if i in existing and i not in active and i not in blocked]
    if ids:
        won = _enroll_insert(sequence, first, ids, now, by.pk if by is not None and manual else None)
        result.enrolled = [i for i in ids if i in won]
        # Lost a race against a concurrent enrollment of the same contact (the unique index decided).
        result.already.extend(i for i in ids if i not in won)
        if result.enrolled:
            from nurturing.tasks import queue_tick

            transaction.on_commit(queue_tick)
    return result


# For large lists (a filtered list of 100,000 contacts) PostgreSQL gets the ids as one array parameter
# and one statement per question, instead of IN lists with a placeholder per id and a model object per
# row; SQLite takes the same ORM path as always. Both give the same answers (tests run on both).


def _enroll_status(sequence: Sequence, ids: list[int], since) -> tuple[set[int], set[int], set[int]]:
    """(contacts that exist, already active in the sequence, kept out by the re-entry policy)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT t.id, c.id IS NOT NULL,
                       coalesce(bool_or(e.state = 'active'), false),
                       coalesce(bool_or(e.state <> 'active'
                                        AND (%s::timestamptz IS NULL OR e.entered_at > %s)), false)
                FROM unnest(%s::bigint[]) AS t(id)
                LEFT JOIN {Contact._meta.db_table} c ON c.id = t.id
                LEFT JOIN {Enrollment._meta.db_table} e ON e.contact_id = t.id AND e.sequence_id = %s
                GROUP BY t.id, c.id
                """,
                [since, since, ids, sequence.pk],
            )
            rows = cursor.fetchall()
        return (
            {i for i, exists, _a, _b in rows if exists},
            {i for i, _e, is_active, _b in rows if is_active},
            {i for i, _e, _a, is_blocked in rows if is_blocked},
        )
    existing = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
    past = Enrollment.objects.filter(sequence=sequence, contact_id__in=ids)
    active = set(past.filter(state=Enrollment.State.ACTIVE).values_list("contact_id", flat=True))
    earlier = past.exclude(state=Enrollment.State.ACTIVE)
    if since is not None:
        earlier = earlier.filter(entered_at__gt=since)
    return existing, active, set(earlier.values_list("contact_id", flat=True))


def _enroll_insert(sequence: Sequence, first: Step, ids: list[int], now: datetime, by_id) -> set[int]:
    """Insert active enrollments at ``first``; returns the contact ids that got one (a concurrent
    enrollment of the same contact into the same sequence wins the unique index instead)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {Enrollment._meta.db_table} (contact_id, sequence_id, state, exit_reason, step_id,
                    next_run_at, tick, attempts, last_error, enrolled_by_id, entered_at)
                SELECT t.id, %s, 'active', '', %s, %s, 0, 0, '', %s, %s FROM unnest(%s::bigint[]) AS t(id)
                ON CONFLICT DO NOTHING
                RETURNING contact_id
                """,
                [sequence.pk, first.pk, now, by_id, now, ids],
            )
            return {row[0] for row in cursor.fetchall()}
    rows = [
        Enrollment(
            contact_id=i, sequence=sequence, step=first, next_run_at=now, entered_at=now, enrolled_by_id=by_id
        )
        for i in ids
    ]
    with transaction.atomic():
        Enrollment.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    # ignore_conflicts does not say which rows lost a race: read back what is active now.
    return set(
        Enrollment.objects.filter(
            sequence=sequence, contact_id__in=ids, state=Enrollment.State.ACTIVE, entered_at=now
        ).values_list("contact_id", flat=True)
    )


def enroll_filtered(*, sequence: Sequence, by=None, **filters) -> EnrollResult:
    """Manual enrollment of a filtered contact list (the contact list's filters: search, stage, owner_id,
    tag, topic, score_min); at most ENROLL_MAX contacts."""
    from funnel.selectors import contact_list

    ids = list(contact_list(**filters).order_by().values_list("pk", flat=True)[: ENROLL_MAX + 1])
    if len(ids) > ENROLL_MAX:
        raise ValidationError(
            _("The filter matches more than %(max)s contacts; narrow it down.") % {"max": f"{ENROLL_MAX:,}"}
        )
    return enroll(sequence=sequence, contact_ids=ids, by=by, manual=True)


@transaction.atomic
def enrollments_exit(
    *,
    reason: str,
    enrollment_ids: Iterable[int] | None = None,
    contact_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> int:
    """End active enrollments (by id, or all of some contacts) with ``reason``; returns how many.
    One UPDATE guarded by the state, so a second call (or a racing engine) changes nothing."""
    if reason not in Enrollment.ExitReason.values:
        raise ValueError(f"unknown exit reason {reason!r}")
    scope = Enrollment.objects.all()
    if enrollment_ids is not None:
        scope = scope.filter(pk__in=list(enrollment_ids))
    elif contact_ids is not None:
        scope = scope.filter(contact_id__in=list(contact_ids))
    else:
        raise ValueError("enrollment_ids or contact_ids is required")
    now = now or timezone.now()
    exited = scope.filter(state=Enrollment.State.ACTIVE).update(
        state=Enrollment.State.EXITED,
        exit_reason=reason,
        step=None,
        waiting_since=None,
        next_run_at=None,
        finished_at=now,
    )
    if exited:  # the rows this UPDATE ended: its reason and time
        webhook_events.enrollments_exited(
            scope.filter(state=Enrollment.State.EXITED, exit_reason=reason, finished_at=now)
        )
    return exited


def enrollment_exit(*, enrollment: Enrollment) -> Enrollment:
    """End one enrollment by hand (UI and API)."""
    if enrollment.state != Enrollment.State.ACTIVE:
        raise ValidationError(_("This enrollment has already ended."))
    enrollments_exit(reason=Enrollment.ExitReason.MANUAL, enrollment_ids=[enrollment.pk])
    enrollment.refresh_from_db()
    return enrollment


# --- Consent --------------------------------------------------------------------------------------


@transaction.atomic
def consent_withdraw(*, contact_id: int, source: str, detail: str = "", now: datetime | None = None) -> bool:
    """Record that the contact no longer wants email and end their enrollments; returns False when
    consent was already withdrawn (nothing recorded twice)."""
    now = now or timezone.now()
    changed = Contact.objects.filter(pk=contact_id, consent_email=True).update(
        consent_email=False, updated_at=now
    )
    reason = (
        Enrollment.ExitReason.BOUNCED
        if source == ConsentChange.Source.HARD_BOUNCE
        else Enrollment.ExitReason.UNSUBSCRIBED
    )
    enrollments_exit(reason=reason, contact_ids=[contact_id], now=now)
    if changed:
        ConsentChange.objects.create(
            contact_id=contact_id, granted=False, source=source, detail=detail[:300], at=now
        )
    return bool(changed)


# --- The sales fast lane --------------------------------------------------------------------------


def nurture_settings_update(**fields) -> NurtureSettings:
    settings_row = NurtureSettings.load()
    for name, value in fields.items():
        setattr(settings_row, name, value)
    settings_row.full_clean()
    if (
        settings_row.unowned_assignment == NurtureSettings.Assignment.DEFAULT_OWNER
        and not settings_row.default_owner_id
    ):
        raise ValidationError({"default_owner": [_("Choose the default owner.")]})
    settings_row.save()
    return settings_row


def _sales_users():
    return get_user_model().objects.filter(is_active=True, groups__name=SALES).order_by("pk")


def contact_assign_owner(*, contact_id: int) -> int | None:
    """An owner for one unowned contact (see ``contacts_assign_owners``)."""
    return contacts_assign_owners(contact_ids=[contact_id]).get(contact_id)


@transaction.atomic
def contacts_assign_owners(*, contact_ids: Iterable[int]) -> dict[int, int | None]:
    """Give the unowned ones among these contacts an owner by the configured policy — the default
    owner, or round-robin among active sales users (the default owner when there are none) — and
    return every given contact's owner now. A contact a rep took meanwhile keeps that rep. A few
    queries for any number of contacts; the settings row is locked, so concurrent callers continue
    the round-robin where the other stopped."""
    ids = sorted({int(i) for i in contact_ids})
    if not ids:
        return {}
    unowned = list(
        Contact.objects.filter(pk__in=ids, owner__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    if unowned:
        NurtureSettings.load()  # the row exists before it is locked
        settings_row = NurtureSettings.objects.select_for_update().get(pk=1)
        users = []
        if (
            settings_row.unowned_assignment == NurtureSettings.Assignment.ROUND_ROBIN
            or not settings_row.default_owner_id
        ):
            users = list(_sales_users().values_list("pk", flat=True))
        chosen: dict[int, list[int]] = {}
        if users:
            last = settings_row.last_assigned_id or 0
            start = next((n for n, u in enumerate(users) if u > last), 0)
            for n, contact_id in enumerate(unowned):
                chosen.setdefault(users[(start + n) % len(users)], []).append(contact_id)
            settings_row.last_assigned_id = users[(start + len(unowned) - 1) % len(users)]
            NurtureSettings.objects.filter(pk=settings_row.pk).update(
                last_assigned_id=settings_row.last_assigned_id
            )
        elif settings_row.default_owner_id:
            chosen[settings_row.default_owner_id] = unowned
        now = timezone.now()
        for owner_id, group in chosen.items():
            Contact.objects.filter(pk__in=group, owner__isnull=True).update(owner_id=owner_id, updated_at=now)
    return dict(Contact.objects.filter(pk__in=ids).values_list("pk", "owner_id"))


@transaction.atomic
def fast_lane(*, contact_id: int, event_id: int, type_name: str, now: datetime | None = None) -> Task | None:
    """A contact asked for a consultation, a demo or a price: end every active enrollment, give the
    contact an owner if unowned, and create one task for that owner (keyed by the event, so a retry
    creates nothing new) plus a notification. Returns the task (None when it existed already)."""
    now = now or timezone.now()
    key = f"fastlane:{event_id}"
    if Task.objects.filter(dedupe_key=key).exists():
        return None
    contact = (
        Contact.objects.select_for_update()
        .filter(pk=contact_id)
        .only("id", "owner_id", "first_name", "last_name", "email")
        .first()
    )
    if contact is None:
        return None
    enrollments_exit(reason=Enrollment.ExitReason.FAST_LANE, contact_ids=[contact_id], now=now)
    owner_id = contact.owner_id or contact_assign_owner(contact_id=contact_id)
    hours = NurtureSettings.load().fast_lane_response_hours
    name = str(contact)
    task = Task(
        title=_("Respond to %(request)s from %(name)s") % {"request": type_name, "name": name},
        contact_id=contact_id,
        owner_id=owner_id,
        kind=Task.Kind.CALL,
        source=Task.Source.FAST_LANE,
        priority=Task.Priority.HIGH,
        due_at=now + timedelta(hours=hours),
        dedupe_key=key,
    )
    try:
        with transaction.atomic():
            task.save()
    except IntegrityError:
        return None  # a concurrent run of the same event created it
    webhook_events.tasks_created([task])
    webhook_events.fast_lane_requested(
        contact_id=contact_id, event_id=event_id, type_name=type_name, task=task
    )
    if owner_id:
        notifications_create(
            notifications=[
                Notification(
                    user_id=owner_id,
                    kind="fast_lane",
                    title=_("%(name)s asked for %(request)s") % {"name": name, "request": type_name},
                    body=_("Respond within %(hours)s hours.") % {"hours": hours},
                    contact_id=contact_id,
                    dedupe_key=key,
                )
            ]
        )
    return task
