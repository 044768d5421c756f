"""One Redis client per process for the app's own keys (live listeners, webhook buffers, metrics).

``redis.Redis.from_url`` builds a connection pool; building one per call opened a TCP connection per
call. redis-py's pool notices a fork and starts afresh in the child, so a prefork worker's children
can share the module-level client safely.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_client(timeout_s: float = 5.0) -> redis.Redis:
    """The process's client for ``settings.REDIS_URL`` with ``timeout_s`` (s) to connect and per command."""
    key = f"{settings.REDIS_URL}|{timeout_s}"
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
                )
    return client
