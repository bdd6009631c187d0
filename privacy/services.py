"""GDPR writes: erasing a contact (Art. 17). The export (Art. 15/20) is privacy.selectors.contact_data.

What Trichter holds on a contact, what the export contains (→) and what erasure does (✗), per model:

- funnel.Contact (+ tags): → all fields, company name and domain, tag names. ✗ deleted.
- funnel.StageTransition: → the stage history with reason, user and rule. ✗ deleted (cascade).
- scoring.Event: → id, type, times, anonymous id, topic, properties. ✗ kept but anonymised:
  contact, anonymous_id and properties cleared — also on the same visitor cookie's events not yet
  identified — so counts per type, topic and day stay and nothing can re-attach them to anyone.
  (Event.contact is already nullable with SET_NULL; scoring's apply and rebuild skip events without
  a contact, so no scoring migration is needed.)
- scoring.ContactScore, ContactRuleScore, ContactTopic, RuleDayCount, ThresholdCrossing: → score,
  grade, events per rule and topic, threshold crossings. ✗ deleted (cascade).
- nurturing.Enrollment + StepRun: → sequence, state, times, the runs with their detail. ✗ kept
  without the contact (SET_NULL; nurturing's pre_delete receiver ends them as "contact deleted", so
  the sequences' exit counts stay); last_error and run details blanked.
- nurturing.OutboundEmail: → address, subject, status, created and sent times. ✗ kept for the
  sequences' counts, detached; address, subject, bodies and error blanked; queued ones suppressed.
- nurturing.ConsentChange: → granted, source, detail, time. ✗ deleted (cascade).
- sales.Task: → title, kind, note, owner, times. ✗ deleted (cascade).
- offers.Offer (+ items): → title, status, lost reason, items, times. ✗ kept for win rate and order
  value, the contact detached (SET_NULL).
- offers.Ownership, customers.Consumption: → product, since, usage state. ✗ deleted (cascade).
- customers.Signal, Reference, Occasion: → kind, status, product, notes, dates. ✗ deleted (cascade).
- notifications.Notification linked to the contact: → recipient, title, text. ✗ deleted (cascade).
- analytics.StagePassage: not exported (derived from the stage history). ✗ deleted (cascade).
- analytics.StageDay, StageDwell, StageCohort: aggregates without personal data, untouched, so the
  funnel figures keep counting the contact's passages.
- privacy.ErasureRecord: the log of the erasure: contact id, SHA-256 of the email, when, by whom,
  why, and the counts above — no personal data.

Caveats: free text elsewhere that names the person (a task note on another contact, a notification
not linked to them, an offer title) is not searched. A full analytics rebuild (analytics.fold.rebuild)
recomputes the figures from the remaining stage history, so only then do erased contacts drop out
of the aggregates. The erasure's reason is stored as given; it should not name the person.
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import audit_record
from funnel.models import Contact
from nurturing.models import Enrollment, OutboundEmail, StepRun
from offers.models import Offer
from privacy.models import ErasureRecord
from scoring.models import Event

REASON_MAX_LENGTH = 1000


def email_hash(email: str | None) -> str:
    """SHA-256 (hex) of the trimmed, lower-cased email; empty for no email."""
    email = (email or "").strip().lower()
    return hashlib.sha256(email.encode()).hexdigest() if email else ""


@transaction.atomic
def contact_erase(*, contact: Contact, by, reason: str = "") -> ErasureRecord:
    """Erase the contact's personal data and log it; returns the record.

    Raises ``Contact.DoesNotExist`` when the contact is gone (erased meanwhile): the row is locked
    first, so of two concurrent erasures exactly one writes a record.
    """
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    pk = contact.pk
    counts: dict[str, int] = {}

    # Events: kept (the figures per type, topic and day count them) but nobody's any more. Events of
    # the same visitor cookie that are not attached yet go too: identification would otherwise attach
    # them to whoever next uses that cookie id, or recreate the link.
    anonymous_ids = set(
        Event.objects.filter(contact_id=pk).exclude(anonymous_id="").values_list("anonymous_id", flat=True)
    )
    counts["events_anonymised"] = Event.objects.filter(contact_id=pk).update(
        contact=None, anonymous_id="", properties={}
    )
    if anonymous_ids:
        counts["events_anonymised"] += Event.objects.filter(
            contact__isnull=True, anonymous_id__in=anonymous_ids
        ).update(anonymous_id="", properties={})

    emails = OutboundEmail.objects.filter(contact_id=pk)
    counts["emails_suppressed"] = emails.filter(state=OutboundEmail.State.QUEUED).update(
        state=OutboundEmail.State.SUPPRESSED
    )
    counts["emails_anonymised"] = emails.update(
        contact=None, to="", subject="", body_text="", body_html="", last_error=""
    )

    counts["enrollments_anonymised"] = Enrollment.objects.filter(contact_id=pk).update(last_error="")
    StepRun.objects.filter(enrollment__contact_id=pk).exclude(detail="").update(detail="")
    counts["offers_detached"] = Offer.objects.filter(contact_id=pk).count()

    hashed = email_hash(contact.email)
    # The enrollments end as "contact deleted" (nurturing's pre_delete receiver) and lose the contact.
    _, deleted = contact.delete()
    counts.update({f"deleted:{label}": n for label, n in sorted(deleted.items()) if n})
    record = ErasureRecord.objects.create(
        contact_id=pk,
        email_hash=hashed,
        erased_at=timezone.now(),
        by=by if getattr(by, "is_authenticated", False) else None,
        reason=(reason or "").strip()[:REASON_MAX_LENGTH],
        counts=counts,
    )
    audit_record(
        actor=by, action=Action.CONTACT_ERASED, target_type="funnel.contact", target_id=pk, record=record.pk
    )
    return record
