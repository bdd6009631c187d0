"""Writes of the tracking app: managing sites, and turning a snippet's event into a scoring event.

The public collect endpoint (``tracking.views.collect``) has already checked the site key, the origin
and the rate when :func:`tracking_event_record` runs; this module checks the event itself and hands it
to scoring's ingestion, the one path every event takes.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from funnel.models import Contact
from funnel.services import contact_update
from scoring.ingest import EventBatchInvalid, events_ingest
from scoring.models import TOPIC_MAX_LENGTH
from tracking.models import TrackedSite, TrackedVisitor, new_public_key, normalise_origin

# The snippet's event kinds and the built-in scoring event types they are stored as (API.md). An
# identification is the submit of a form that names the visitor.
EVENT_TYPES = {"page_view": "page_view", "download": "download", "identify": "form_submit"}
FIELDS = {
    "event",
    "event_id",
    "anonymous_id",
    "url",
    "title",
    "referrer",
    "topic",
    "email",
    "first_name",
    "last_name",
}
URL_MAX = 2000
TITLE_MAX = 300
NAME_MAX = 150
_TOPIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class InvalidEvent(Exception):
    """The snippet's payload is unusable. Deliberately without detail: the endpoint is public and
    answers with one fixed message, never with anything taken from the request."""


# --- Sites ----------------------------------------------------------------------------------------


def parse_origins(text: str) -> list[str]:
    """Origins from a text (one per line, or separated by commas/spaces), normalised, duplicates
    dropped. Raises ValidationError naming the first bad entry."""
    origins: list[str] = []
    for item in re.split(r"[\s,]+", text or ""):
        if not item:
            continue
        try:
            origin = normalise_origin(item)
        except ValueError:
            raise ValidationError(
                "“%(origin)s” is not an origin: write it as https://host[:port].",
                code="invalid_origin",
                params={"origin": item[:100]},
            ) from None
        if origin not in origins:
            origins.append(origin)
    return origins


def site_save(
    *, site: TrackedSite | None = None, name: str, allowed_origins: list[str], is_active: bool = True
) -> TrackedSite:
    site = site or TrackedSite()
    site.name = name
    site.allowed_origins = [normalise_origin(o) for o in allowed_origins]
    site.is_active = is_active
    site.full_clean()
    site.save()
    return site


def site_regenerate_key(*, site: TrackedSite) -> TrackedSite:
    """A new public key: pages that embed the old one stop being collected until updated."""
    site.public_key = new_public_key()
    site.save(update_fields=["public_key"])
    return site


def site_delete(*, site: TrackedSite) -> None:
    # The events stay: they belong to contacts (or visitors) now, not to the site.
    site.delete()


# --- Events ---------------------------------------------------------------------------------------


def tracking_event_record(*, site: TrackedSite, payload) -> bool:
    """Store one snippet event for ``site``; False if its ``event_id`` was stored before.

    An ``identify`` names the visitor by email: scoring's ingestion finds or creates the contact (a
    suspect) and attaches the visitor's earlier anonymous events to it.
    """
    data = _clean(payload)
    kind = data["event"]
    anonymous_id = data["anonymous_id"]
    event = {
        # Namespaced by site, so that the snippet's ids cannot collide with other senders' ids.
        "id": f"web:{site.pk}:{data['event_id']}",
        "type": EVENT_TYPES[kind],
        "anonymous_id": anonymous_id,
        "properties": _properties(site, data),
    }
    if data.get("topic"):
        event["topic"] = data["topic"]
    if kind == "identify":
        event["email"] = data["email"]
    else:
        contact_id = (
            TrackedVisitor.objects.filter(site=site, anonymous_id=anonymous_id)
            .values_list("contact_id", flat=True)
            .first()
        )
        if contact_id:
            event["contact"] = contact_id
    # One transaction: the contact, the visitor and the names appear together.
    with transaction.atomic():
        try:
            result = events_ingest(payload=event)
        except EventBatchInvalid:
            # The cleaning above mirrors the ingestion's rules; a refusal here (e.g. an event type
            # that was removed) is still the sender's problem, not a server error.
            raise InvalidEvent from None
        if kind == "identify":
            _remember_visitor(site, anonymous_id, data)
    return result.accepted == 1


def _remember_visitor(site: TrackedSite, anonymous_id: str, data: dict) -> None:
    contact = (
        Contact.objects.annotate(email_lower=Lower("email")).filter(email_lower=data["email"].lower()).first()
    )
    if contact is None:  # erased in the meantime
        return
    try:
        with transaction.atomic():
            TrackedVisitor.objects.update_or_create(
                site=site, anonymous_id=anonymous_id, defaults={"contact": contact}
            )
    except IntegrityError:  # a concurrent identify of the same visitor won; either contact will do
        pass
    # Names fill only empty fields: a public form must not overwrite what sales has entered.
    names = {
        field: data[field]
        for field in ("first_name", "last_name")
        if data.get(field) and not getattr(contact, field)
    }
    if names:
        try:
            contact_update(contact=contact, **names)
        except ValidationError:
            pass


def _properties(site: TrackedSite, data: dict) -> dict:
    properties = {"source": "website", "site": site.pk, "url": data["url"]}
    if data["event"] == "page_view":
        properties["title"] = data.get("title", "")
        properties["referrer"] = data.get("referrer", "")
    elif data["event"] == "download":
        properties["page"] = data.get("referrer", "")
    return properties


def _clean(payload) -> dict:
    if not isinstance(payload, dict) or set(payload) - FIELDS:
        raise InvalidEvent
    if not all(isinstance(value, str) for value in payload.values()):
        raise InvalidEvent
    data = {key: value.strip() for key, value in payload.items()}
    if data.get("event") not in EVENT_TYPES:
        raise InvalidEvent
    for key in ("event_id", "anonymous_id"):
        data[key] = _uuid(data.get(key, ""))
    data["url"] = _url(data.get("url", ""), required=True)
    data["referrer"] = _url(data.get("referrer", ""), required=False)
    if len(data.get("title", "")) > TITLE_MAX:
        raise InvalidEvent
    topic = data.get("topic", "")
    if topic and (len(topic) > TOPIC_MAX_LENGTH or not _TOPIC.match(topic)):
        raise InvalidEvent
    if data["event"] == "identify":
        email = data.get("email", "")
        if not email or len(email) > 254:
            raise InvalidEvent
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidEvent from None
        for key in ("first_name", "last_name"):
            if len(data.get(key, "")) > NAME_MAX:
                raise InvalidEvent
    else:
        for key in ("email", "first_name", "last_name"):
            data.pop(key, None)  # only an identification may name the visitor
    if any("\x00" in value for value in data.values()):
        raise InvalidEvent
    return data


def _uuid(value: str) -> str:
    if len(value) != 36:
        raise InvalidEvent
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidEvent from None


def _url(value: str, *, required: bool) -> str:
    if not value:
        if required:
            raise InvalidEvent
        return ""
    if len(value) > URL_MAX:
        raise InvalidEvent
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidEvent
    return value.split("#", 1)[0]
