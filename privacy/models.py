from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ErasureRecord(models.Model):
    """Proof that a contact was erased (GDPR Art. 17), without the personal data erased.

    ``email_hash`` is the SHA-256 of the trimmed, lower-cased email (empty when there was none): it
    lets the controller recognise the person if a later import brings them back, and names no one.
    ``counts`` says what was deleted and what anonymised (see privacy.services).
    """

    contact_id = models.BigIntegerField(_("contact id"))
    email_hash = models.CharField(_("email hash (SHA-256)"), max_length=64, blank=True)
    erased_at = models.DateTimeField(_("erased"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("erased by"),
    )
    reason = models.TextField(_("reason"), max_length=1000, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)

    class Meta:
        ordering = ["-erased_at", "-id"]
        verbose_name = _("erasure record")
        verbose_name_plural = _("erasure records")
        indexes = [models.Index(fields=["email_hash"], name="erasure_email_hash_idx")]

    def __str__(self):
        return f"contact {self.contact_id} erased {self.erased_at:%Y-%m-%d %H:%M}"
