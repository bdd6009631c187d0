"""Websites that embed the tracking snippet, and the visitors they have identified."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from funnel.models import Contact

KEY_PREFIX = "ts_"
MAX_ORIGINS = 20


def new_public_key() -> str:
    # Public (it is in every page of the site), but unguessable so that nobody posts to a site they
    # have not seen; 18 bytes give 24 URL-safe characters.
    return KEY_PREFIX + secrets.token_urlsafe(18)


def normalise_origin(value: str) -> str:
    """``https://Example.com:443/`` → ``https://example.com``: the form a browser sends in ``Origin``.

    Raises ValueError for anything that is not scheme://host[:port].
    """
    value = value.strip()
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("invalid port") from None
    if (
        parts.scheme.lower() not in {"http", "https"}
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or "*" in value
    ):
        raise ValueError("not an origin")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or (scheme, port) in {("http", 80), ("https", 443)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def validate_origins(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("A list of origins is required."), code="invalid")
    if len(value) > MAX_ORIGINS:
        raise ValidationError(_("At most %(max)d origins."), code="too_many", params={"max": MAX_ORIGINS})
    for item in value:
        try:
            if normalise_origin(item) != item:
                raise ValueError("not normalised")
        except ValueError:
            raise ValidationError(
                _("“%(origin)s” is not an origin: write it as https://host[:port]."),
                code="invalid_origin",
                params={"origin": item[:100]},
            ) from None


class TrackedSite(models.Model):
    """A website that embeds the snippet: its public key, and the origins allowed to send events."""

    name = models.CharField(_("name"), max_length=100)
    public_key = models.CharField(_("public key"), max_length=40, unique=True, default=new_public_key)
    allowed_origins = models.JSONField(
        _("allowed origins"), default=list, blank=True, validators=[validate_origins]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("tracked website")
        verbose_name_plural = _("tracked websites")

    def __str__(self):
        return self.name

    def allows(self, origin: str) -> bool:
        return bool(origin) and origin in self.allowed_origins


class TrackedVisitor(models.Model):
    """A visitor (``anonymous_id`` cookie) of a site who identified as a contact through a form.

    Later events of the visitor go to the contact directly: the ingestion attaches anonymous history
    only when an event names the visitor together with the contact.
    """

    site = models.ForeignKey(TrackedSite, on_delete=models.CASCADE, related_name="visitors")
    anonymous_id = models.CharField(_("anonymous id"), max_length=64)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tracked_visits")
    identified_at = models.DateTimeField(_("identified"), auto_now=True)

    class Meta:
        verbose_name = _("identified visitor")
        verbose_name_plural = _("identified visitors")
        constraints = [
            models.UniqueConstraint(fields=["site", "anonymous_id"], name="tracking_visitor_unique"),
        ]

    def __str__(self):
        return f"{self.site_id}:{self.anonymous_id}"
