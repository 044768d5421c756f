"""The viewer's time zone: the profile's choice, else the browser's (cookie ``tz`` set by base JS), else UTC.

Pages render every instant in this zone and keep the UTC value in a ``title`` (see
``accounts/templatetags/viewer_time.py``). Validation reuses ``scheduling.cron.validate_time_zone``,
the one time-zone rule of the project.
"""

from __future__ import annotations

from urllib.parse import unquote
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from scheduling import cron

from .models import Profile

BROWSER_COOKIE = "tz"


def _valid_zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return cron.validate_time_zone(name)
    except cron.CronError:
        return None


def viewer_time_zone(request) -> ZoneInfo:
    """The zone to show times in for ``request`` (never raises; an invalid cookie falls back to UTC)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        chosen = Profile.objects.filter(user=user).values_list("time_zone", flat=True).first()
        zone = _valid_zone(chosen)
        if zone is not None:
            return zone
    return _valid_zone(unquote(request.COOKIES.get(BROWSER_COOKIE, ""))) or ZoneInfo("UTC")


@transaction.atomic
def profile_set_time_zone(*, user, time_zone: str) -> Profile:
    """Store the user's zone (``""`` = follow the browser). Raises ``ValidationError`` on ``time_zone``."""
    from django.core.exceptions import ValidationError

    if time_zone and _valid_zone(time_zone) is None:
        raise ValidationError({"time_zone": [f"time_zone: '{time_zone[:60]}' is not an IANA time zone name"]})
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.time_zone = time_zone
    profile.save(update_fields=["time_zone"])
    return profile


class ViewerTimeZoneMiddleware:
    """Activates the viewer's time zone for the request, so templates and forms use it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = viewer_time_zone(request)
        request.viewer_time_zone = zone
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def time_zone_choices() -> list[tuple[str, str]]:
    """``(name, name)`` for every IANA zone of the zone database, sorted, for a picker."""
    from zoneinfo import available_timezones

    return [(name, name) for name in sorted(available_timezones())]
