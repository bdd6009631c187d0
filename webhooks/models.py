"""Outbound webhooks: subscriptions (where to POST which events) and the delivery outbox.

A ``Delivery`` row is written by ``webhooks.services.webhook_emit`` in the transaction of the change it
reports, so an event is delivered if and only if its change committed; ``webhooks.delivery`` sends the
rows later (Celery), retrying with backoff. See README, "Webhooks".
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# The event kinds a subscription may ask for (the public contract: add, never rename).
KINDS = (
    ("contact.created", _("Contact created")),
    ("contact.updated", _("Contact updated")),
    ("contact.stage_changed", _("Stage changed")),
    ("contact.threshold_crossed", _("Sales threshold reached")),
    ("fastlane.requested", _("Fast lane requested")),
    ("signal.created", _("Signal raised")),
    ("enrollment.exited", _("Enrollment exited")),
    ("task.created", _("Task created")),
)
KIND_KEYS = frozenset(k for k, _label in KINDS)
# Sent only by "send test event"; no subscription asks for it.
TEST_KIND = "webhook.test"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Subscription(models.Model):
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("target URL"), max_length=500)
    # Shown to admins (they configure the receiver with it); needed in clear text to sign.
    secret = models.CharField(_("signing secret"), max_length=100, default=new_secret, editable=False)
    kinds = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=500, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    # Failed attempts since the last success (reset by a success or by re-activating).
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        indexes = [
            # webhook_emit reads the active subscriptions on every emitted change.
            models.Index(fields=["is_active"], name="webhook_sub_active_idx"),
            models.Index(fields=["name", "id"], name="webhook_sub_name_idx"),
        ]

    def __str__(self):
        return self.name

    def wants(self, kind: str) -> bool:
        return self.is_active and kind in self.kinds


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook")
    )
    kind = models.CharField(_("event"), max_length=50)
    delivery_id = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    # The envelope exactly as sent: built when the change happened, not when it is delivered.
    payload = models.JSONField(_("payload"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("status code"), null=True, blank=True)
    last_response = models.CharField(_("response"), max_length=500, blank=True)
    last_error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            # The claim: due pending rows, oldest due first.
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due_idx"),
            # The delivery log of one subscription, newest first (optionally by state).
            models.Index(fields=["subscription", "-created_at", "-id"], name="webhook_delivery_log_idx"),
            models.Index(
                fields=["subscription", "state", "-created_at", "-id"], name="webhook_delivery_state_idx"
            ),
            # The daily purge of finished deliveries past the log's retention.
            models.Index(fields=["state", "created_at"], name="webhook_delivery_purge_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.delivery_id}"
