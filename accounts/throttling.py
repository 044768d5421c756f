"""Throttles for the endpoints used before login (login, register, password reset).

DRF's ``ScopedRateThrottle`` keyed by client address (``REMOTE_ADDR``, or ``X-Forwarded-For`` behind
``NUM_PROXIES`` proxies), counted in the Redis cache so every web process shares the budget. The
pages throttle with the same scopes, so the API and the forms share one budget per address.
Rates: ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (env ``THROTTLE_*``).
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle


class AuthRateThrottle(ScopedRateThrottle):
    """``throttle_scope`` of the view → rate; always per client address, never per user."""

    def get_rate(self):
        # Read the live settings (DRF copies the rates into a class attribute at import time).
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _Scope:
    def __init__(self, scope: str):
        self.throttle_scope = scope


def throttle_wait(request, scope: str) -> int | None:
    """Count one request of ``scope`` for a plain Django view; ``None`` if allowed, else the seconds
    to wait before the next one is allowed (for ``Retry-After``)."""
    throttle = AuthRateThrottle()
    if throttle.allow_request(request, _Scope(scope)):
        return None
    return max(1, round(throttle.wait() or 1))
