"""Reads of the privacy app: everything held on one contact (GDPR Art. 15/20) and the consent log.

``contact_data`` runs one query per kind of data, whatever the amount (no query per row); what it
covers is listed in privacy.services' module docstring.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from customers.models import Consumption, Occasion, Reference, Signal
from funnel.models import Contact, StageTransition
from notifications.models import Notification
from nurturing.models import ConsentChange, Enrollment, OutboundEmail, StepRun
from offers.models import Offer, OfferItem, Ownership
from sales.models import Task
from scoring.models import ContactRuleScore, ContactScore, ContactTopic, Event, ThresholdCrossing

# The contact page shows the newest consent changes; the export has them all.
CONSENT_LOG_LIMIT = 20
EXPORT_FORMAT = "trichter.personal-data/1"


def contact_data(contact: Contact) -> dict[str, Any]:
    """Everything Trichter holds on ``contact``, JSON-serialisable, grouped by kind."""
    pk = contact.pk
    row = Contact.objects.select_related("company", "stage", "owner", "persona").get(pk=pk)
    enrollments = _rows(
        Enrollment.objects.filter(contact_id=pk).order_by("entered_at", "id"),
        id="id",
        sequence="sequence__name",
        state="state",
        exit_reason="exit_reason",
        entered_at="entered_at",
        finished_at="finished_at",
    )
    runs = defaultdict(list)
    for run in (
        StepRun.objects.filter(enrollment__contact_id=pk)
        .order_by("enrollment_id", "tick")
        .values("enrollment_id", "tick", "kind", "outcome", "detail", "ran_at")
    ):
        runs[run.pop("enrollment_id")].append(_plain(run))
    for enrollment in enrollments:
        enrollment["step_runs"] = runs.get(enrollment["id"], [])

    offers = _rows(
        Offer.objects.filter(contact_id=pk).order_by("created_at", "id"),
        id="id",
        title="title",
        status="status",
        currency="currency",
        lost_reason="lost_reason",
        sent_at="sent_at",
        decided_at="decided_at",
        created_at="created_at",
    )
    items = defaultdict(list)
    for item in (
        OfferItem.objects.filter(offer__contact_id=pk)
        .order_by("offer_id", "id")
        .values("offer_id", "product__name", "quantity", "unit_price")
    ):
        items[item["offer_id"]].append(
            {
                "product": item["product__name"],
                "quantity": item["quantity"],
                "unit_price": _plain(item["unit_price"]),
            }
        )
    for offer in offers:
        offer["items"] = items.get(offer["id"], [])

    score = ContactScore.objects.filter(contact_id=pk).values("fit_grade", "above_threshold").first()
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _plain(timezone.now()),
        "contact": {
            "id": row.pk,
            "email": row.email,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "phone": row.phone,
            "job_title": row.job_title,
            "stage": row.stage.key,
            "owner": row.owner.get_username() if row.owner else None,
            "source": row.source,
            "persona": row.persona.name if row.persona else None,
            "consent_email": row.consent_email,
            "properties": row.properties,
            "created_at": _plain(row.created_at),
            "updated_at": _plain(row.updated_at),
        },
        "company": {"name": row.company.name, "domain": row.company.domain} if row.company else None,
        "tags": sorted(row.tags.values_list("name", flat=True)),
        "stage_history": _rows(
            StageTransition.objects.filter(contact_id=pk).order_by("at", "id"),
            from_stage="from_stage__key",
            to_stage="to_stage__key",
            at="at",
            by="by__username",
            reason="reason",
            rule="rule",
        ),
        "events": _rows(
            Event.objects.filter(contact_id=pk).order_by("occurred_at", "id"),
            id="external_id",
            type="type__key",
            occurred_at="occurred_at",
            received_at="received_at",
            anonymous_id="anonymous_id",
            topic="topic",
            properties="properties",
        ),
        "scores": {
            "score": row.score,
            "fit_score": row.fit_score,
            "engagement_score": row.engagement_score,
            "fit_grade": score["fit_grade"] if score else None,
            "above_threshold": score["above_threshold"] if score else None,
            "rules": _rows(
                ContactRuleScore.objects.filter(contact_id=pk).order_by("rule__name", "rule_id"),
                rule="rule__name",
                events="events",
            ),
            "topics": _rows(
                ContactTopic.objects.filter(contact_id=pk).order_by("topic"), topic="topic", events="events"
            ),
            "threshold_crossings": [
                _plain(at)
                for at in ThresholdCrossing.objects.filter(contact_id=pk)
                .order_by("crossed_at")
                .values_list("crossed_at", flat=True)
            ],
        },
        "enrollments": enrollments,
        "emails": _rows(
            OutboundEmail.objects.filter(contact_id=pk).order_by("created_at", "id"),
            to="to",
            subject="subject",
            status="state",
            created_at="created_at",
            sent_at="sent_at",
        ),
        "consent_changes": _rows(
            ConsentChange.objects.filter(contact_id=pk).order_by("at", "id"),
            granted="granted",
            source="source",
            detail="detail",
            at="at",
        ),
        "tasks": _rows(
            Task.objects.filter(contact_id=pk).order_by("created_at", "id"),
            title="title",
            kind="kind",
            note="note",
            owner="owner__username",
            due_at="due_at",
            done_at="done_at",
            created_at="created_at",
        ),
        "offers": offers,
        "ownerships": _rows(
            Ownership.objects.filter(contact_id=pk).order_by("since", "id"),
            product="product__name",
            since="since",
            last_purchase_at="last_purchase_at",
        ),
        "consumption": _rows(
            Consumption.objects.filter(contact_id=pk).order_by("id"),
            product="product__name",
            state="state",
            last_usage_at="last_usage_at",
        ),
        "signals": _rows(
            Signal.objects.filter(contact_id=pk).order_by("created_at", "id"),
            kind="kind",
            status="status",
            product="product__name",
            topic="topic",
            created_at="created_at",
            decided_at="decided_at",
            dismiss_reason="dismiss_reason",
        ),
        "references": _rows(
            Reference.objects.filter(contact_id=pk).order_by("date", "id"),
            kind="kind",
            date="date",
            link="link",
            may_publish="may_publish",
            note="note",
        ),
        "occasions": _rows(
            Occasion.objects.filter(contact_id=pk).order_by("date", "id"),
            kind="kind",
            date="date",
            note="note",
        ),
        "notifications": _rows(
            Notification.objects.filter(contact_id=pk).order_by("created_at", "id"),
            user="user__username",
            kind="kind",
            title="title",
            body="body",
            created_at="created_at",
        ),
    }


def contact_consent_log(*, contact: Contact, limit: int = CONSENT_LOG_LIMIT) -> QuerySet[ConsentChange]:
    """The contact's newest consent changes (what, when, source), newest first."""
    return ConsentChange.objects.filter(contact_id=contact.pk).order_by("-at", "-id")[:limit]


def _rows(queryset: QuerySet, **fields: str) -> list[dict[str, Any]]:
    """``queryset`` as plain dicts: output name → lookup (``values()`` cannot rename onto a field name)."""
    return [
        {name: _plain(row[lookup]) for name, lookup in fields.items()}
        for row in queryset.values(*fields.values())
    ]


def _plain(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
