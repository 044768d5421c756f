"""Account-side preferences of a user (issue 8: the viewer's time zone)."""

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """One per user: ``time_zone`` (IANA name, blank = the browser's zone) in which pages show times."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone or 'browser time zone'})"
