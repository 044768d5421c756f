"""Account models: ``ApiKey`` and the viewer's ``Profile`` (time zone for pages).

``ApiKey``: a named, optionally expiring credential for scripts, stored only as a hash.

A key reads ``jsk_<prefix>_<secret>``: ``prefix`` (16 hex characters, unique, indexed) finds the row in
one lookup, ``key_hash`` (SHA-256 of the whole key) proves it. The raw key is shown once at creation.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApiKeyQuerySet(models.QuerySet):
    def owned_by(self, user) -> "ApiKeyQuerySet":
        """The only way endpoints, pages and the admin read API keys: scoped to their owner."""
        return self.filter(owner=user)

    def usable(self, *, now=None) -> "ApiKeyQuerySet":
        """Keys that authenticate at ``now`` (UTC): not revoked and not past ``expires_at``."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ApiKey(models.Model):
    """One API key of one user. Revoking sets ``revoked_at`` (the row stays for the audit trail)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part of the key, for lookup.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the whole key.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    permissions = models.JSONField(
        default=list,
        blank=True,
        help_text="Labels such as jobs:read, stored and returned as the original did; not enforced.",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "-id"], name="apikey_owner_recent")]

    def __str__(self) -> str:
        return f"{self.name} (jsk_{self.prefix}_…)"

    def is_usable(self, *, now=None) -> bool:
        """Same rule as ``ApiKeyQuerySet.usable`` for a row already in memory."""
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
class Profile(models.Model):
    """One per user: ``time_zone`` (IANA name, blank = the browser's zone) in which pages show times."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone or 'browser time zone'})"
