"""The audit log: an append-only record of who changed what.

Entries name their target by type and id, never by name or email: the log must outlive a GDPR
erasure without keeping the erased person's data (the page shows a target's current name while it
exists). Database triggers (migration 0001) refuse UPDATE and DELETE of entries, whatever code runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    CONTACT_STAGE_MOVED = "contact.stage_moved", _("Stage moved by hand")
    CONTACT_DELETED = "contact.deleted", _("Contact deleted")
    CONTACT_ERASED = "contact.erased", _("Contact erased (GDPR)")
    COMPANY_DELETED = "company.deleted", _("Company deleted")
    RULE_CHANGED = "scoring.rule_changed", _("Scoring rule changed")
    SEQUENCE_CHANGED = "nurturing.sequence_changed", _("Sequence changed")
    EXPORT = "data.exported", _("Data exported")
    IMPORT = "data.imported", _("Import started")
    TOKEN_CREATED = "api_token.created", _("API token created")
    TOKEN_REVOKED = "api_token.revoked", _("API token revoked")
    WEBHOOK_CHANGED = "webhook.changed", _("Webhook changed")


class AuditEntry(models.Model):
    at = models.DateTimeField(_("at"), default=timezone.now, editable=False)
    # No database constraint and nothing done on delete: a deleted user's entries keep their id and
    # actor_name, and no UPDATE is ever needed (the triggers refuse every one).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    # The actor's username when it happened (users can be renamed or deleted); "" for the system.
    actor_name = models.CharField(_("by (name)"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    target_type = models.CharField(_("target type"), max_length=40, blank=True)
    target_id = models.CharField(_("target id"), max_length=40, blank=True)
    # What changed, without personal data: field names, stage keys, counts, filters.
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at_idx"),
            models.Index(fields=["action", "-at", "-id"], name="audit_action_idx"),
            models.Index(fields=["actor", "-at", "-id"], name="audit_actor_idx"),
            models.Index(fields=["target_type", "target_id", "-at"], name="audit_target_idx"),
        ]

    def __str__(self):
        who = self.actor_name or "-"
        return f"{self.at:%Y-%m-%d %H:%M} {who} {self.action} {self.target_type}#{self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Audit entries are append-only.")
        super().save(*args, **kwargs)
