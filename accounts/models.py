import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, *, user, name: str = "") -> tuple["ApiToken", str]:
        """Create a token; the plain key is returned once and only its hash is stored."""
        key = secrets.token_hex(20)
        token = self.create(user=user, name=name, prefix=key[:8], key_hash=hash_key(key))
        return token, key


class ApiToken(models.Model):
    """A per-user API key (``Authorization: Token <key>``). The user's role limits what it may do.

    Only a SHA-256 of the key is stored, so a leaked database dump does not leak working keys.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.prefix}… ({self.user})"
