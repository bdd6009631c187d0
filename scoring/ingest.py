"""Event ingestion: validate a batch, identify who it is about, store it once, queue the scoring.

Validation is a plain loop rather than a DRF serializer per event: a batch of 1,000 events has to be
checked in a few milliseconds. The batch is all-or-nothing: any invalid event rejects it whole, with
the errors by index, and nothing is stored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from funnel.models import Contact
from funnel.services import contact_create
from scoring.models import EVENT_ID_MAX_LENGTH, PROPERTIES_MAX_BYTES, TOPIC_MAX_LENGTH, Event, EventType

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
FUTURE_TOLERANCE = timedelta(minutes=5)
FIELDS = {"id", "type", "occurred_at", "contact", "email", "anonymous_id", "topic", "properties"}


class EventBatchInvalid(Exception):
    """The batch is rejected whole; ``errors`` is a list of {"index", "field", "message"}."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} invalid event(s)")
        self.errors = errors


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    event_ids: list[int] = field(default_factory=list)


@dataclass
class _Clean:
    external_id: str
    type_id: int
    occurred_at: datetime
    contact_id: int | None
    email: str
    anonymous_id: str
    topic: str
    properties: str  # serialised JSON


def events_ingest(*, payload, now: datetime | None = None) -> IngestResult:
    """Store one event (a dict) or a list of up to 1,000; returns accepted and duplicate counts."""
    now = now or timezone.now()
    items = payload if isinstance(payload, list) else [payload]
    if isinstance(payload, list) and not payload:
        raise EventBatchInvalid(
            [{"index": None, "field": "non_field_errors", "message": _("The batch is empty.")}]
        )
    if len(items) > MAX_BATCH:
        raise EventBatchInvalid(
            [
                {
                    "index": None,
                    "field": "non_field_errors",
                    "message": _("At most %(max)d events per request.") % {"max": MAX_BATCH},
                }
            ]
        )
    types = _event_types()
    errors: list[dict] = []
    cleaned: list[_Clean] = []
    for index, item in enumerate(items):
        result = _validate(index, item, types, now, errors)
        if result is not None:
            cleaned.append(result)
    if errors:
        raise EventBatchInvalid(errors)

    with transaction.atomic():
        _resolve_contacts(cleaned, errors)
        if errors:
            raise EventBatchInvalid(errors)
        _attach_anonymous_history(cleaned)
        ids = _insert(cleaned, now)
        transaction.on_commit(_queue_scoring)
    return IngestResult(accepted=len(ids), duplicates=len(cleaned) - len(ids), event_ids=ids)


def _queue_scoring() -> None:
    # Imported here: tasks import services, which import this module.
    from scoring.tasks import apply_pending_events

    try:
        apply_pending_events.delay()
    except Exception:  # noqa: BLE001 — the broker being down must not fail a stored batch
        # The events are committed; the periodic sweep applies them once the broker is back.
        logger.warning("Could not queue event scoring; the sweep will apply the events.", exc_info=True)


def _event_types() -> dict[str, int]:
    return dict(EventType.objects.values_list("key", "id"))


def _validate(index: int, item, types: dict[str, int], now: datetime, errors: list[dict]) -> _Clean | None:
    def error(field_name: str, message: str) -> None:
        errors.append({"index": index, "field": field_name, "message": message})

    if not isinstance(item, dict):
        error("non_field_errors", _("Each event must be a JSON object."))
        return None
    before = len(errors)
    unknown = set(item) - FIELDS
    if unknown:
        error(
            sorted(unknown)[0],
            _("Unknown field; allowed: %(fields)s.") % {"fields": ", ".join(sorted(FIELDS))},
        )

    external_id = item.get("id")
    if not isinstance(external_id, str) or not external_id.strip():
        error("id", _("A non-empty string is required."))
    elif len(external_id) > EVENT_ID_MAX_LENGTH:
        error("id", _("At most %(max)d characters.") % {"max": EVENT_ID_MAX_LENGTH})
    elif "\x00" in external_id:
        error("id", _("Must not contain NUL characters."))

    type_key = item.get("type")
    if not isinstance(type_key, str) or not type_key:
        error("type", _("An event type key is required."))
    elif type_key not in types:
        error(
            "type",
            _("Unknown event type %(key)s; see GET /api/v1/event-types/.") % {"key": repr(type_key[:60])},
        )

    occurred_at = now
    raw_time = item.get("occurred_at")
    if raw_time is not None:
        try:
            parsed = parse_datetime(raw_time) if isinstance(raw_time, str) else None
            # Well-formed but impossible ("2026-13-45…") raises ValueError; a time near year 1 with
            # an offset cannot be converted to UTC (OverflowError).
            if parsed is not None:
                (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError):
            parsed = None
        if parsed is None:
            error("occurred_at", _("An ISO 8601 date-time is required, e.g. 2026-11-22T10:00:00Z."))
        else:
            occurred_at = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            if occurred_at > now + FUTURE_TOLERANCE:
                error("occurred_at", _("Must not be more than 5 minutes in the future."))

    contact_id = item.get("contact")
    if contact_id is not None and (
        isinstance(contact_id, bool) or not isinstance(contact_id, int) or not 1 <= contact_id < 2**63
    ):
        error("contact", _("A contact id (a positive whole number) is required."))
    email = item.get("email")
    if email is not None:
        if not isinstance(email, str):
            error("email", _("A string is required."))
        else:
            try:
                validate_email(email)
            except ValidationError:
                error("email", _("Enter a valid email address."))
            if len(email) > 254:
                error("email", _("At most %(max)d characters.") % {"max": 254})
    anonymous_id = item.get("anonymous_id")
    if anonymous_id is not None and (not isinstance(anonymous_id, str) or not 1 <= len(anonymous_id) <= 255):
        error("anonymous_id", _("A string of 1 to 255 characters is required."))
    elif anonymous_id and "\x00" in anonymous_id:
        error("anonymous_id", _("Must not contain NUL characters."))
    if contact_id is None and not email and not anonymous_id:
        error("non_field_errors", _("Name who it is about: contact, email or anonymous_id."))

    topic = item.get("topic")
    if topic is not None and (not isinstance(topic, str) or len(topic) > TOPIC_MAX_LENGTH):
        error("topic", _("A string of at most %(max)d characters is required.") % {"max": TOPIC_MAX_LENGTH})
    elif topic and "\x00" in topic:
        error("topic", _("Must not contain NUL characters."))

    properties = item.get("properties", {})
    serialised = "{}"
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        error("properties", _("A JSON object is required."))
    else:
        serialised = json.dumps(properties, ensure_ascii=False, separators=(",", ":"))
        if len(serialised.encode()) > PROPERTIES_MAX_BYTES:
            error("properties", _("At most %(max)d KiB serialised.") % {"max": PROPERTIES_MAX_BYTES // 1024})
        elif "\\u0000" in serialised:
            error("properties", _("Must not contain NUL characters."))

    if len(errors) > before:
        return None
    return _Clean(
        external_id=external_id,
        type_id=types[type_key],
        occurred_at=occurred_at,
        contact_id=contact_id,
        email=(email or "").strip(),
        anonymous_id=anonymous_id or "",
        topic=(topic or "").strip(),
        properties=serialised,
    )


def _resolve_contacts(events: list[_Clean], errors: list[dict]) -> None:
    """Fill in ``contact_id`` from email; create unknown emails as suspects; check contact+email."""
    ids = {e.contact_id for e in events if e.contact_id}
    known_ids = dict(
        Contact.objects.filter(pk__in=ids)
        .annotate(email_lower=Lower("email"))
        .values_list("id", "email_lower")
    )
    emails = {e.email.lower() for e in events if e.email}
    by_email = dict(
        Contact.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
        .values_list("email_lower", "id")
    )
    for index, event in enumerate(events):
        if event.contact_id and event.contact_id not in known_ids:
            errors.append({"index": index, "field": "contact", "message": _("No contact with this id.")})
        elif event.contact_id and event.email:
            if by_email.get(event.email.lower()) != event.contact_id:
                errors.append(
                    {
                        "index": index,
                        "field": "email",
                        "message": _("contact and email name different contacts."),
                    }
                )
    if errors:
        return
    for event in events:
        if event.contact_id or not event.email:
            continue
        key = event.email.lower()
        if key not in by_email:
            by_email[key] = _create_suspect(event.email)
        event.contact_id = by_email[key]


def _create_suspect(email: str) -> int:
    """A new contact for an unknown email; if a concurrent request created it first, use that one."""
    try:
        with transaction.atomic():
            return contact_create(email=email, reason="first event").pk
    except (IntegrityError, ValidationError):
        existing = (
            Contact.objects.annotate(email_lower=Lower("email")).filter(email_lower=email.lower()).first()
        )
        if existing is None:
            raise
        return existing.pk


def _attach_anonymous_history(events: list[_Clean]) -> None:
    """Identification: earlier events of a visitor now known get the contact and are (re)applied."""
    pairs = sorted({(e.anonymous_id, e.contact_id) for e in events if e.anonymous_id and e.contact_id})
    # One query finds the visitors that still have anonymous events: a tracker sends the visitor id
    # with every event of a known contact, and an UPDATE per such event would cost a query each.
    pending = (
        set(
            Event.objects.filter(anonymous_id__in={a for a, _ in pairs}, contact__isnull=True)
            .exclude(anonymous_id="")  # spelled out so that the partial index visibly applies
            .order_by()
            .values_list("anonymous_id", flat=True)
            .distinct()
        )
        if pairs
        else set()
    )
    for anonymous_id, contact_id in pairs:
        if anonymous_id in pending:
            pending.discard(anonymous_id)  # the first contact named wins, as before
            Event.objects.filter(anonymous_id=anonymous_id, contact__isnull=True).update(
                contact_id=contact_id, applied_at=None
            )
    # Within this batch, anonymous-only events of an identified visitor belong to the contact too.
    known: dict[str, int] = {}
    for anonymous_id, contact_id in pairs:
        known.setdefault(anonymous_id, contact_id)
    for event in events:
        if not event.contact_id and event.anonymous_id in known:
            event.contact_id = known[event.anonymous_id]


INSERT_COLUMNS = (
    "external_id",
    "type_id",
    "contact_id",
    "anonymous_id",
    "topic",
    "properties",
    "occurred_at",
    "received_at",
    "applied_at",
)
CHUNK = 500


def _insert(events: list[_Clean], now: datetime) -> list[int]:
    """INSERT … ON CONFLICT (external_id) DO NOTHING RETURNING id: the unique index decides, even
    between concurrent requests. Anonymous-only events have nothing to apply and are marked applied;
    identification resets that."""
    table = Event._meta.db_table
    columns = ", ".join(INSERT_COLUMNS)
    row_sql = "(" + ", ".join(["%s"] * len(INSERT_COLUMNS)) + ")"
    inserted: list[int] = []
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(now)
    with connection.cursor() as cursor:
        for start in range(0, len(events), CHUNK):
            chunk = events[start : start + CHUNK]
            params: list = []
            for e in chunk:
                params += [
                    e.external_id,
                    e.type_id,
                    e.contact_id,
                    e.anonymous_id,
                    e.topic,
                    e.properties,
                    adapt(e.occurred_at),
                    received,
                    None if e.contact_id else received,
                ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(chunk))} "
                "ON CONFLICT (external_id) DO NOTHING RETURNING id",
                params,
            )
            inserted += [row[0] for row in cursor.fetchall()]
    return inserted
