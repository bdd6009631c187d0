"""What each webhook event says, and the one-line hooks the other apps call where the change happens.

Each hook calls ``webhook_emit``/``webhook_emit_many`` with a function that builds the payloads, so
the queries a payload needs run only when a subscription wants the event; with no subscriptions a
hook costs one indexed query. The contact appears as the API names it (id, email, names, stage key,
score, owner id) — a few columns, one query for a whole batch, never a serializer per row.
"""

from __future__ import annotations

from collections.abc import Iterable

from webhooks.services import webhook_emit, webhook_emit_many

CONTACT_COLUMNS = ("id", "email", "first_name", "last_name", "stage__key", "score", "owner_id", "company_id")
CONTACT_KEYS = ("id", "email", "first_name", "last_name", "stage", "score", "owner", "company")


def contact_data(contact) -> dict:
    return {
        "id": contact.pk,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "stage": contact.stage.key if contact.stage_id else None,
        "score": contact.score,
        "owner": contact.owner_id,
        "company": contact.company_id,
    }


def contacts_data(contact_ids: Iterable[int]) -> dict[int, dict]:
    from funnel.models import Contact

    rows = Contact.objects.filter(pk__in=set(contact_ids)).values_list(*CONTACT_COLUMNS)
    return {row[0]: dict(zip(CONTACT_KEYS, row, strict=True)) for row in rows}


# --- contacts -------------------------------------------------------------------------------------


def contacts_imported(created_ids: list[int], changed_fields: dict[int, Iterable[str]]) -> None:
    """A batch of a CSV import: contact.created for the new contacts, contact.updated (with the
    changed field names) for the updated ones. Two queries for the payloads, and only if subscribed."""
    if created_ids:
        webhook_emit_many(
            "contact.created", lambda: [{"contact": data} for data in contacts_data(created_ids).values()]
        )
    if changed_fields:
        webhook_emit_many(
            "contact.updated",
            lambda: [
                {"contact": data, "changed": sorted(changed_fields[pk])}
                for pk, data in contacts_data(changed_fields).items()
            ],
        )


def contact_created(contact) -> None:
    webhook_emit("contact.created", lambda: {"contact": contact_data(contact)})


def contact_updated(contact, changed: Iterable[str]) -> None:
    changed = sorted(changed)
    webhook_emit("contact.updated", lambda: {"contact": contact_data(contact), "changed": changed})


def stage_changed(transitions) -> None:
    """Stage transitions just recorded (instances with from_stage/to_stage loaded); the funnel entry
    of a new contact (no from_stage) is reported as contact.created instead."""
    moves = [t for t in transitions if t.from_stage_id is not None]
    if not moves:
        return

    def build():
        contacts = contacts_data(t.contact_id for t in moves)
        return [
            {
                "contact": contacts.get(t.contact_id, {"id": t.contact_id}),
                "from_stage": t.from_stage.key,
                "to_stage": t.to_stage.key,
                "at": t.at,
                "by": t.by_id,
                "rule": t.rule,
                "reason": t.reason,
            }
            for t in moves
        ]

    webhook_emit_many("contact.stage_changed", build)


def threshold_crossed(crossings) -> None:
    def build():
        contacts = contacts_data(c.contact_id for c in crossings)
        return [
            {
                "contact": contacts.get(c.contact_id, {"id": c.contact_id}),
                "crossing": c.pk,
                "engagement": c.engagement,
                "threshold": c.threshold,
                "crossed_at": c.crossed_at,
            }
            for c in crossings
        ]

    webhook_emit_many("contact.threshold_crossed", build)


# --- nurturing, sales, customers ------------------------------------------------------------------


def fast_lane_requested(*, contact_id: int, event_id: int, type_name: str, task) -> None:
    webhook_emit(
        "fastlane.requested",
        lambda: {
            "contact": contacts_data([contact_id]).get(contact_id, {"id": contact_id}),
            "event": event_id,
            "event_type": type_name,
            "task": task.pk,
            "owner": task.owner_id,
        },
    )


def tasks_created(tasks) -> None:
    """Tasks just inserted. Rows bulk-inserted with ON CONFLICT DO NOTHING have no id: they are looked
    up by their key, and only those whose ``created_at`` is this insert's count (a conflicting row
    existed before and was not created now)."""
    tasks = list(tasks)
    if not tasks:
        return

    def build():
        from sales.models import Task

        rows = [t for t in tasks if t.pk]
        keyed = {t.dedupe_key: t for t in tasks if not t.pk and t.dedupe_key}
        if keyed:
            for row in Task.objects.filter(dedupe_key__in=list(keyed)):
                if row.created_at == keyed[row.dedupe_key].created_at:
                    rows.append(row)
        contacts = contacts_data(t.contact_id for t in rows)
        return [
            {
                "id": t.pk,
                "title": t.title,
                "kind": t.kind,
                "source": t.source,
                "priority": t.priority,
                "due_at": t.due_at,
                "owner": t.owner_id,
                "contact": contacts.get(t.contact_id, {"id": t.contact_id}),
                "created_at": t.created_at,
            }
            for t in rows
        ]

    webhook_emit_many("task.created", build)


def signals_created(signals) -> None:
    signals = list(signals)
    if not signals:
        return

    def build():
        contacts = contacts_data(s.contact_id for s in signals)
        return [
            {
                "id": s.pk,
                "kind": s.kind,
                "topic": s.topic,
                "weight": s.weight,
                "product": {"id": s.product_id, "name": s.product.name},
                "contact": contacts.get(s.contact_id, {"id": s.contact_id}),
                "owner": s.owner_id,
                "created_at": s.created_at,
            }
            for s in signals
        ]

    webhook_emit_many("signal.created", build)


def enrollments_exited(enrollments) -> None:
    """Enrollments that just exited: instances, or a queryset of them (evaluated only if wanted)."""
    if isinstance(enrollments, list) and not enrollments:
        return

    def build():
        from nurturing.models import Sequence

        rows = list(enrollments)
        names = dict(Sequence.objects.filter(pk__in={e.sequence_id for e in rows}).values_list("pk", "name"))
        contacts = contacts_data(e.contact_id for e in rows if e.contact_id)
        return [
            {
                "id": e.pk,
                "sequence": {"id": e.sequence_id, "name": names.get(e.sequence_id, "")},
                "contact": contacts.get(e.contact_id, {"id": e.contact_id}),
                "reason": e.exit_reason,
                "exited_at": e.finished_at,
            }
            for e in rows
        ]

    webhook_emit_many("enrollment.exited", build)
