"""Writing the audit log. Call inside the transaction of the change, so that the entry and the change
commit (or roll back) together."""

from __future__ import annotations

from collections.abc import Iterable

from audit.models import Action, AuditEntry


def audit_record(
    *, actor, action: str, target=None, target_type: str = "", target_id="", **details
) -> AuditEntry:
    """One entry. ``target`` is a model instance (its type and id are taken), or give ``target_type``
    and ``target_id``. ``details`` must hold no personal data (ids, field names, stage keys, counts)."""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = target.pk
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=getattr(actor, "username", "") if getattr(actor, "is_authenticated", False) else "",
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        details=details,
    )


def audit_record_many(*, actor, action: str, target_type: str, target_ids: Iterable, **details) -> int:
    """One entry per target, in one INSERT (bulk deletions)."""
    authenticated = getattr(actor, "is_authenticated", False)
    entries = [
        AuditEntry(
            actor=actor if authenticated else None,
            actor_name=actor.username if authenticated else "",
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=details,
        )
        for target_id in target_ids
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=1_000)
    return len(entries)


def audit_export(*, actor, what: str, params=None, **details) -> AuditEntry:
    """An export (a file or a data download): ``what`` names it, ``params`` are the request's query
    parameters, of which only the names are kept (a search term may be a person's name)."""
    names = sorted(k for k in (params or {}) if k != "page")
    return audit_record(actor=actor, action=Action.EXPORT, target_type=what, filters=names, **details)
