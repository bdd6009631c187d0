"""Write-side logic of the funnel. Views, the API, the admin, commands and (later) rules call these."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from audit.models import Action
from audit.services import audit_record
from funnel.models import Company, Contact, Stage, StageCountDelta, StageTransition, Tag
from funnel.signals import contact_stage_changed, contacts_changed
from webhooks import events as webhook_events

CONTACT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "company",
    "owner",
    "consent_email",
    "properties",
    "source",
    "persona",
)


def _announce(transition: StageTransition) -> None:
    contact_stage_changed.send(
        sender=Contact,
        contact_id=transition.contact_id,
        transition_id=transition.pk,
        from_stage=transition.from_stage.key if transition.from_stage else None,
        to_stage=transition.to_stage.key,
        by_id=transition.by_id,
        rule=transition.rule,
    )


def _announce_changed(*, contact_ids=None, company_id=None) -> None:
    transaction.on_commit(
        partial(contacts_changed.send, sender=Contact, contact_ids=contact_ids, company_id=company_id)
    )


def _record_transition(*, contact, from_stage, to_stage, by, rule, reason, at=None) -> StageTransition:
    transition = StageTransition.objects.create(
        contact=contact,
        from_stage=from_stage,
        to_stage=to_stage,
        by=by,
        rule=rule,
        reason=reason,
        at=at or timezone.now(),
    )
    transaction.on_commit(partial(_announce, transition))
    webhook_events.stage_changed([transition])
    return transition


@transaction.atomic
def contact_move_stage(
    *, contact: Contact, stage: Stage, by=None, rule: str = "", reason: str = ""
) -> StageTransition | None:
    """Move a contact to ``stage`` and record why; the one way a stage ever changes.

    The contact row is locked so that two concurrent moves are serialised and each transition's
    ``from_stage`` is the stage the contact really left. Moving to the current stage records
    nothing and returns None. ``by`` is the user; ``rule`` names an automatic rule instead.
    """
    locked = Contact.objects.select_for_update().only("id", "stage").get(pk=contact.pk)
    if locked.stage_id == stage.pk:
        contact.stage = stage
        return None
    from_stage = Stage.objects.get(pk=locked.stage_id)
    now = timezone.now()
    Contact.objects.filter(pk=contact.pk).update(stage=stage, updated_at=now)
    contact.stage = stage
    contact.updated_at = now
    if by is not None:  # by hand; rules' moves are in the stage history with the rule's name
        audit_record(
            actor=by,
            action=Action.CONTACT_STAGE_MOVED,
            target=contact,
            **{"from": from_stage.key, "to": stage.key},
        )
    return _record_transition(
        contact=contact, from_stage=from_stage, to_stage=stage, by=by, rule=rule, reason=reason, at=now
    )


@transaction.atomic
def contact_move_stage_many(
    *, moves: dict[int, list[tuple[Stage, str]]], reason: str = ""
) -> list[StageTransition]:
    """The bulk form of :func:`contact_move_stage`, for automatic rules applied to many contacts.

    ``moves`` maps a contact id to its steps, in order, each ``(stage, rule name)``; every step is
    recorded as its own transition (a contact that goes suspect → lead → prospect in one batch of
    events passed the lead stage). Contacts are locked in id order; a step to the stage the contact
    is already in records nothing. One UPDATE per target stage, one INSERT for all transitions.
    """
    if not moves:
        return []
    ids = sorted(moves)
    current = dict(
        Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", "stage_id")
    )
    stages = {stage.pk: stage for stage in Stage.objects.all()}
    now = timezone.now()
    transitions: list[StageTransition] = []
    final: dict[int, list[int]] = {}
    for contact_id in ids:
        if contact_id not in current:
            continue  # deleted meanwhile
        at = current[contact_id]
        for stage, rule in moves[contact_id]:
            if stage.pk == at:
                continue
            transitions.append(
                StageTransition(
                    contact_id=contact_id,
                    from_stage=stages[at],
                    to_stage=stages[stage.pk],
                    rule=rule,
                    reason=reason,
                    at=now,
                )
            )
            at = stage.pk
        if at != current[contact_id]:
            final.setdefault(at, []).append(contact_id)
    for stage_id, contact_ids in final.items():
        Contact.objects.filter(pk__in=contact_ids).update(stage_id=stage_id, updated_at=now)
    StageTransition.objects.bulk_create(transitions)
    webhook_events.stage_changed(transitions)
    for transition in transitions:
        transaction.on_commit(partial(_announce, transition))
    return transitions


def default_stage() -> Stage:
    return Stage.objects.order_by("position").first()


@transaction.atomic
def contact_create(
    *, by=None, stage: Stage | None = None, tags: Iterable[str] | None = None, reason: str = "", **fields
) -> Contact:
    """Create a contact in ``stage`` (default: the first stage) and record its entry into the funnel."""
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown contact fields: {sorted(unknown)}")
    stage = stage or default_stage()
    contact = Contact(stage=stage, **fields)
    contact.full_clean(exclude=["tags"], validate_unique=False, validate_constraints=False)
    contact.save()
    if tags is not None:
        contact_set_tags(contact=contact, tags=tags)
    record_entry(contact=contact, by=by, reason=reason)
    _announce_changed(contact_ids=[contact.pk])
    webhook_events.contact_created(contact)
    return contact


def record_entry(*, contact: Contact, by=None, rule: str = "", reason: str = "") -> StageTransition:
    """Record a new contact's entry into the funnel: the first transition, from no stage."""
    return _record_transition(
        contact=contact,
        from_stage=None,
        to_stage=contact.stage,
        by=by,
        rule=rule,
        reason=reason,
        at=contact.created_at,
    )


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    by=None,
    stage: Stage | None = None,
    tags: Iterable[str] | None = None,
    reason: str = "",
    **fields,
) -> Contact:
    """Change a contact's fields; a changed ``stage`` goes through :func:`contact_move_stage`."""
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown contact fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(contact, name, value)
    if fields:
        contact.full_clean(exclude=["tags", "stage"], validate_unique=False, validate_constraints=False)
        contact.save(update_fields=[*fields, "updated_at"])
    if tags is not None:
        contact_set_tags(contact=contact, tags=tags)
    if fields or tags is not None:
        _announce_changed(contact_ids=[contact.pk])
        webhook_events.contact_updated(contact, [*fields, *(["tags"] if tags is not None else [])])
    if stage is not None:
        contact_move_stage(contact=contact, stage=stage, by=by, reason=reason)
    return contact


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Trimmed, de-duplicated (case-insensitively), in the order given."""
    seen: dict[str, str] = {}
    for raw in tags:
        name = str(raw).strip()
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())


def contact_set_tags(*, contact: Contact, tags: Iterable[str]) -> None:
    """Replace the contact's tags; names match existing tags case-insensitively."""
    names = normalise_tags(tags)
    if not names:
        contact.tags.clear()
        return
    matches = Q()
    for name in names:
        matches |= Q(name__iexact=name)
    existing = {t.name.lower(): t for t in Tag.objects.filter(matches)}
    missing = [n for n in names if n.lower() not in existing]
    if missing:
        Tag.objects.bulk_create([Tag(name=n) for n in missing], ignore_conflicts=True)
        existing = {t.name.lower(): t for t in Tag.objects.filter(matches)}
    contact.tags.set([existing[n.lower()] for n in names])


@transaction.atomic
def contact_delete(*, contact: Contact, by=None) -> None:
    audit_record(actor=by, action=Action.CONTACT_DELETED, target=contact)
    contact.delete()


def company_create(**fields) -> Company:
    company = Company(**fields)
    company.full_clean()
    company.save()
    return company


@transaction.atomic
def company_update(*, company: Company, **fields) -> Company:
    for name, value in fields.items():
        setattr(company, name, value)
    company.full_clean()
    company.save()
    _announce_changed(company_id=company.pk)
    return company


@transaction.atomic
def company_delete(*, company: Company, by=None) -> None:
    """Delete a company; its contacts stay, without a company (``on_delete=SET_NULL``)."""
    contact_ids = list(company.contacts.values_list("pk", flat=True))
    audit_record(actor=by, action=Action.COMPANY_DELETED, target=company, contacts=len(contact_ids))
    company.delete()
    if contact_ids:
        _announce_changed(contact_ids=contact_ids)


def stage_update_texts(*, stage: Stage, **texts) -> Stage:
    """Change a stage's name or any of its five text columns."""
    allowed = {"name", "buying_process", "task", "expected_response", "metric", "discovery"}
    unknown = set(texts) - allowed
    if unknown:
        raise TypeError(f"Not editable: {sorted(unknown)}")
    for name, value in texts.items():
        setattr(stage, name, value)
    stage.full_clean(validate_unique=False)
    stage.save(update_fields=[*texts, "updated_at"])
    return stage


@transaction.atomic
def stage_counts_compact() -> int:
    """Fold the stage count deltas into one row per stage; returns how many rows were folded.

    On PostgreSQL one statement deletes the rows and inserts their sums, so exactly the rows
    summed are the rows removed, whatever concurrent transactions commit meanwhile. SQLite runs
    one writer at a time (transactions begin IMMEDIATE), so the plain version is safe there.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH folded AS (DELETE FROM funnel_stagecountdelta RETURNING stage_id, delta),
                     summed AS (
                         INSERT INTO funnel_stagecountdelta (stage_id, delta)
                         SELECT stage_id, SUM(delta) FROM folded GROUP BY stage_id HAVING SUM(delta) <> 0
                     )
                SELECT count(*) FROM folded
                """
            )
            return cursor.fetchone()[0]
    sums = list(StageCountDelta.objects.order_by().values_list("stage_id").annotate(n=Sum("delta")))
    count, _ = StageCountDelta.objects.all().delete()
    StageCountDelta.objects.bulk_create([StageCountDelta(stage_id=sid, delta=n) for sid, n in sums if n])
    return count


@transaction.atomic
def stage_counts_rebuild() -> None:
    """Recount from the contacts table (after a restore, or to prove the triggers right)."""
    if connection.vendor == "postgresql":
        # Writers wait for the recount, so no contact is counted twice or missed.
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE funnel_contact IN SHARE MODE")
    StageCountDelta.objects.all().delete()
    counts = Contact.objects.order_by().values_list("stage_id").annotate(n=Count("id"))
    StageCountDelta.objects.bulk_create([StageCountDelta(stage_id=sid, delta=n) for sid, n in counts])
