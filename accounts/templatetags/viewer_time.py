"""``{{ instant|when }}``: an instant in the viewer's time zone, with its UTC value on hover."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.filter
def when(value: datetime | None, empty: str = "—"):
    """An aware instant as ``<time datetime="2028-03-25T01:30:00Z" title="2028-03-25 01:30:00 UTC">``
    around ``Sun 25 Mar 2028 03:30:00 CEST``; ``empty`` for ``None``.

    The visible text is in the active (viewer's) zone; ``datetime`` and ``title`` are UTC.
    """
    if not value:
        return empty
    utc = value.astimezone(UTC)
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat().replace("+00:00", "Z"),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        local.strftime("%a %d %b %Y %H:%M:%S %Z"),
    )
