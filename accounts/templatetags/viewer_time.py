"""The one way pages show time (issue 17): ``{{ instant|when }}`` (``when_short`` in narrow
columns), ``{{ instant|when_in:zone }}``, ``{{ ms|duration }}`` and ``{{ instant|age }}``, all
rendered by :func:`render_when`.

Every instant on every page goes through :func:`when` (directly or via :func:`when_in`): the visible
text is in the viewer's zone (the active zone, see ``accounts.time_zone``) and the UTC value is in
the ``title`` (shown on hover) and the ``datetime`` attribute. ``tests/ui/test_time_display.py``
walks the pages and finds no raw ISO 8601 text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

register = template.Library()

LONG = "%a %d %b %Y %H:%M:%S %Z"
SHORT = "%a %d %b %H:%M %Z"


def _instant(value) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string (API dicts hold strings)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def render_when(value: datetime | str | None, *, empty: str = "—", fmt: str = LONG):
    """The one rendering of an instant: ``<time datetime="2028-03-25T01:30:00Z" title="2028-03-25
    01:30:00 UTC">`` around the instant in the active (viewer's) zone, formatted with ``fmt``;
    ``empty`` for ``None``. Also for Python callers (admin columns)."""
    instant = _instant(value)
    if instant is None:
        return empty
    utc = instant.astimezone(UTC)
    local = timezone.localtime(instant)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat().replace("+00:00", "Z"),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        local.strftime(fmt),
    )


@register.filter
def when(value: datetime | str | None, empty: str = "—"):
    """An instant as ``Sun 25 Mar 2028 03:30:00 CEST`` in the viewer's zone, UTC on hover
    (:func:`render_when`)."""
    return render_when(value, empty=empty)


@register.filter
def when_short(value: datetime | str | None, empty: str = "—"):
    """:func:`when` without the year and seconds (``Sun 25 Mar 03:30 CEST``), for narrow table columns."""
    return render_when(value, empty=empty, fmt=SHORT)


@register.filter
def when_in(value: datetime | str | None, zone: str | None):
    """:func:`when`, followed by the same instant in ``zone`` (a schedule's own time zone) when that
    zone is not the viewer's: ``Sun 25 Mar 2028 09:30:00 JST (Sun 25 Mar 02:30 CEST in Europe/Berlin)``."""
    shown = when(value)
    instant = _instant(value)
    if instant is None or not zone or zone == timezone.get_current_timezone_name():
        return shown
    try:
        there = instant.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        return shown
    return format_html(
        '{} <span class="other-zone">({} in {})</span>', shown, there.strftime(SHORT), zone
    )


@register.filter
def duration(ms: int | float | None, empty: str = "—") -> str:
    """Milliseconds as people read them: ``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if ms is None or ms == "":
        return empty
    ms = float(ms)
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


@register.filter
def age(value: datetime | str | None, empty: str = "—"):
    """How long ago ``value`` was, as :func:`duration` text, with the instant itself on hover."""
    instant = _instant(value)
    if instant is None:
        return empty
    ms = max(0.0, (timezone.now() - instant).total_seconds() * 1000)
    utc = instant.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat().replace("+00:00", "Z"),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        duration(ms),
    )
