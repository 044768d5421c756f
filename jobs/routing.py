"""Websocket routes of the job server and the origin check in front of them (mounted by ``config.asgi``)."""

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import re_path

from .consumers import JobEventsConsumer

websocket_urlpatterns = [
    re_path(r"^ws/jobs/?$", JobEventsConsumer.as_asgi()),
]


class BrowserOriginValidator(OriginValidator):
    """Refuse a websocket whose ``Origin`` is not one of ``ALLOWED_HOSTS``; allow one with no ``Origin``.

    Browsers always send ``Origin`` on a websocket, and the check stops another site from opening a
    socket with the user's session cookie (cross-site websocket hijacking). Scripts send no
    ``Origin`` and authenticate with a token or an API key, which another site cannot borrow;
    channels' ``AllowedHostsOriginValidator`` would refuse them whenever ``ALLOWED_HOSTS`` is not ``*``.
    """

    def __init__(self, application):
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        # ALLOWED_HOSTS read per connection (as Django's host check does), with channels' DEBUG default.
        allowed_hosts = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed_hosts:
            allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
        return any(
            pattern == "*" or self.match_allowed_origin(parsed_origin, pattern) for pattern in allowed_hosts
        )


def origin_guard(application):
    """``application`` behind :class:`BrowserOriginValidator` (``ALLOWED_HOSTS``, as channels' own guard)."""
    return BrowserOriginValidator(application)
