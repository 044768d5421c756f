"""Which webhooks of an owner are active: this process's cache, kept fresh over Redis pub/sub.

Every job event asks it (``webhooks.fanout``), and most owners have none, so the answer comes from
memory. The listener thread that keeps the cache honest is started in one place,
``WebhooksConfig.ready`` (:func:`start_change_listener`), and again in every forked child
(``os.register_at_fork``): a child inherits the parent's cache and flags but not its thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import redis
from django.conf import settings
from django.db import connection, transaction

from config.redis_client import redis_client

from .models import EventType, Webhook

logger = logging.getLogger(__name__)


def _redis() -> redis.Redis:
    return redis_client()


CHANGED_CHANNEL = "jobserver:webhooks:changed"
_MAX_CACHED_OWNERS = 10_000


class _ActiveWebhooks:
    """This process's cache of each owner's active webhooks, kept fresh by Redis pub/sub.

    Every job event asks "which webhooks of this owner are active?"; answering it from the database
    cost a SELECT per event, and asking Redis for a version token cost a round trip per event (most
    owners have none). Now :func:`webhooks_changed` clears this process's cache and publishes on
    ``CHANGED_CHANNEL`` (right away and again after commit); a listener thread per process clears
    the cache on every message. The cache is trusted only while that listener is subscribed: before
    it is, and after it lost Redis, every lookup goes to the database, and each (re)subscription
    clears the cache, since changes may have been announced while it was away. A lookup that raced
    a change is not stored (``generation``), nor one made inside a transaction. Changes made without
    model signals (raw SQL, ``QuerySet.update``) must call :func:`webhooks_changed`.
    """

    lock = threading.Lock()
    generation = 0
    owners: dict[int, list[Webhook]] = {}
    subscribed = False
    listener_pid: int | None = None


def webhooks_changed() -> None:
    """Invalidate every process's cache of active webhooks (call after any change to a ``Webhook``)."""
    _changed()
    transaction.on_commit(_changed)


def _changed() -> None:
    _invalidate()
    try:
        _redis().publish(CHANGED_CHANNEL, "1")
    except redis.RedisError:
        # Listeners that lost Redis clear their caches when they subscribe again.
        logger.warning("could not announce a webhook change", exc_info=True)


def _invalidate(subscribed: bool | None = None) -> None:
    cache = _ActiveWebhooks
    with cache.lock:
        cache.generation += 1
        cache.owners = {}
        if subscribed is not None:
            cache.subscribed = subscribed


def _listen_for_changes() -> None:
    """Body of the listener thread: clear the cache on each announced change, forever."""
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=5, socket_timeout=10, health_check_interval=15
    )
    while True:
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(CHANGED_CHANNEL)
            while True:
                message = pubsub.get_message(timeout=5.0)
                if message is not None:
                    _invalidate(subscribed=True if message["type"] == "subscribe" else None)
        except Exception:
            _invalidate(subscribed=False)
            logger.warning("webhook change listener lost Redis; retrying in 1 s", exc_info=True)
            time.sleep(1)
        finally:
            try:
                pubsub.close()
            except Exception:
                pass


def start_change_listener() -> None:
    """Start this process's listener thread (``WebhooksConfig.ready``; after a fork, in the child).

    Until it has subscribed, and whenever it has lost Redis, :func:`active_webhooks` reads the
    database instead of trusting the cache, so a process without a listener is only slower.
    """
    cache = _ActiveWebhooks
    with cache.lock:
        if cache.listener_pid == os.getpid():
            return
        # A forked child inherits the parent's flags and cache but not its thread.
        cache.listener_pid, cache.subscribed, cache.owners = os.getpid(), False, {}
        cache.generation += 1
    threading.Thread(target=_listen_for_changes, name="webhook-changes", daemon=True).start()


def restart_change_listener_after_fork() -> None:
    """``os.register_at_fork(after_in_child=...)``: the child has one thread, so a lock another thread
    of the parent held at the fork is replaced (it would stay locked forever), then the listener starts."""
    _ActiveWebhooks.lock = threading.Lock()
    start_change_listener()


def active_webhooks(owner_id: int) -> list[Webhook]:
    """The owner's active webhooks (ordered by id), from the cache when it can be trusted."""
    cache = _ActiveWebhooks
    with cache.lock:
        trusted, generation = cache.subscribed and cache.listener_pid == os.getpid(), cache.generation
        hooks = cache.owners.get(owner_id) if trusted else None
    if hooks is not None:
        return hooks
    hooks = list(Webhook.objects.filter(owner_id=owner_id, active=True).order_by("id"))
    # Inside a transaction the answer may hold uncommitted rows that a rollback (which sends no
    # signal) would leave in the cache: use it for this event only.
    if trusted and not connection.in_atomic_block:
        with cache.lock:
            if cache.generation == generation and cache.subscribed:
                if len(cache.owners) >= _MAX_CACHED_OWNERS:
                    cache.owners = {}
                cache.owners[owner_id] = hooks
    return hooks


def subscribed_to(hooks: list[Webhook], event: str) -> list[Webhook]:
    """Those of ``hooks`` that get ``event``: subscribed to it, or to every event. The one rule."""
    return [hook for hook in hooks if hook.event_type in (event, EventType.ALL)]


def matching_webhooks(owner_id: int, event: str) -> list[Webhook]:
    """The owner's active webhooks that get ``event``, for fresh events and flushed buffers alike."""
    return subscribed_to(active_webhooks(owner_id), event)
