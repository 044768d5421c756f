"""Throttles for the endpoints used before login (login, register, password reset).

DRF's ``ScopedRateThrottle`` keyed by client address, counted in the Redis cache so every web process
shares the budget. The pages throttle with the same scopes, so the API and the forms share one budget
per address. The address is the socket's (``REMOTE_ADDR``; uvicorn runs with ``--no-proxy-headers``)
unless ``NUM_PROXIES`` (N >= 1) says that many proxies in front append to ``X-Forwarded-For``: then
it is the N-th entry from the right, the one the outermost trusted proxy saw. DRF itself trusts the
whole header when ``NUM_PROXIES`` is unset, so a client could buy a new budget per request by
sending a new ``X-Forwarded-For`` (issue 13).
Rates: ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (env ``THROTTLE_*``).
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView


class AuthRateThrottle(ScopedRateThrottle):
    """``throttle_scope`` of the view → rate; always per client address, never per user."""

    def get_rate(self):
        # Read the live settings (DRF copies the rates into a class attribute at import time).
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_ident(self, request) -> str:
        """The client address for the budget (module docstring); never a value the client chose
        unless it reached us through ``NUM_PROXIES`` trusted proxies."""
        remote_addr = request.META.get("REMOTE_ADDR") or ""
        num_proxies = api_settings.NUM_PROXIES or 0
        forwarded = request.headers.get("x-forwarded-for")
        if num_proxies <= 0 or not forwarded:
            return remote_addr
        hops = [hop.strip() for hop in forwarded.split(",")]
        return hops[-min(num_proxies, len(hops))] or remote_addr

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _Scope(APIView):
    """The view a throttle asks for its ``throttle_scope``, for a plain Django view."""

    def __init__(self, scope: str):
        super().__init__()
        self.throttle_scope = scope


def throttle_wait(request, scope: str) -> int | None:
    """Count one request of ``scope`` for a plain Django view; ``None`` if allowed, else the seconds
    to wait before the next one is allowed (for ``Retry-After``)."""
    throttle = AuthRateThrottle()
    if throttle.allow_request(request, _Scope(scope)):
        return None
    return max(1, round(throttle.wait() or 1))
