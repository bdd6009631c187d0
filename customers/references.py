"""References and delight: what customers give back, and the small surprises that earn it."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import DetectorSettings, Occasion, Reference
from funnel.models import Contact, Stage
from sales.models import Task
from webhooks import events as webhook_events

# A reference is also activity: recording one stores an event of these types, so the stage rules of
# scoring move the contact to the reference stage the same way an event from an integration would.
EVENT_TYPE_OF_KIND = {
    Reference.Kind.REFERRAL: "referral",
    Reference.Kind.TESTIMONIAL: "reference_given",
    Reference.Kind.CASE_STUDY: "reference_given",
    Reference.Kind.REVIEW: "reference_given",
}
DELIGHT_STAGES = ("customer", "consumption", "reference")


def reference_create(*, contact: Contact, by=None, **fields) -> Reference:
    from scoring.ingest import EventBatchInvalid, events_ingest

    reference = Reference(
        contact=contact, company_id=fields.pop("company_id", contact.company_id), created_by=by
    )
    for name, value in fields.items():
        setattr(reference, name, value)
    reference.full_clean()
    with transaction.atomic():
        reference.save()
        try:
            events_ingest(
                payload={
                    "id": f"reference:{reference.pk}",
                    "type": EVENT_TYPE_OF_KIND[reference.kind],
                    "contact": contact.pk,
                    "occurred_at": timezone.now().isoformat(),
                    "properties": {"reference": reference.pk, "kind": reference.kind},
                }
            )
        except EventBatchInvalid as exc:  # the built-in event types were deleted: say so, store nothing
            raise ValidationError(
                _("The reference could not be recorded as activity: %(error)s") % {"error": exc.errors}
            ) from exc
    return reference


def reference_delete(*, reference: Reference) -> None:
    reference.delete()


def references_per_year() -> list[tuple[int, int, int]]:
    """(year, references, of which may be published), newest year first — one query."""
    rows = (
        Reference.objects.annotate(year=ExtractYear("date"))
        .order_by()
        .values("year")
        .annotate(n=Count("id"), published=Count("id", filter=Q(may_publish=True)))
        .order_by("-year")
    )
    return [(r["year"], r["n"], r["published"]) for r in rows]


# --- Delight --------------------------------------------------------------------------------------


def occasion_save(*, occasion: Occasion | None = None, **fields) -> Occasion:
    occasion = occasion or Occasion()
    for name, value in fields.items():
        setattr(occasion, name, value)
    occasion.full_clean()
    occasion.save()
    return occasion


def next_occurrence(original: date, today: date) -> date:
    """The next yearly occurrence of ``original`` on or after ``today`` (29 February → 28th)."""
    for year in (today.year, today.year + 1):
        day = min(original.day, calendar.monthrange(year, original.month)[1])
        candidate = date(year, original.month, day)
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable")


def delight_tasks_create(*, now: datetime | None = None) -> int:
    """Create a delight task for every occasion of a customer (or consumer, or reference) that falls
    within the configured days ahead — once per occasion and year (keyed). Returns how many were new."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    ahead = DetectorSettings.load().delight_days_ahead
    stage_ids = list(Stage.objects.filter(key__in=DELIGHT_STAGES).values_list("pk", flat=True))
    occasions = Occasion.objects.filter(contact__stage_id__in=stage_ids).select_related("contact")
    tasks = []
    for occasion in occasions.iterator(chunk_size=2000):
        when = next_occurrence(occasion.date, today)
        if when > today + timedelta(days=ahead):
            continue
        tasks.append(
            Task(
                title=_("%(occasion)s of %(contact)s on %(date)s: a small surprise?")
                % {
                    "occasion": occasion.get_kind_display(),
                    "contact": occasion.contact,
                    "date": when.strftime("%d.%m."),
                },
                contact_id=occasion.contact_id,
                owner_id=occasion.contact.owner_id,
                kind=Task.Kind.DELIGHT,
                source=Task.Source.OCCASION,
                priority=Task.Priority.NORMAL,
                due_at=timezone.make_aware(datetime.combine(when - timedelta(days=1), time(9))),
                note=occasion.note,
                dedupe_key=f"delight:{occasion.pk}:{when.year}",
            )
        )
    if not tasks:
        return 0
    before = Task.objects.filter(dedupe_key__in=[t.dedupe_key for t in tasks]).count()
    with transaction.atomic():  # the tasks and their webhook events together
        Task.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
        webhook_events.tasks_created(tasks)
    return len(tasks) - before
