"""Job and schedule events: the one function that publishes them, and the group names.

Every job and schedule event goes to the owner's group (``user.<id>``) on the Redis channel layer,
which is the only path from workers to browsers; a socket narrowed to some jobs drops the others'
events itself (``jobs.consumers``), so one event is one group send. Webhook fan-out hangs off the
same function so no event is published twice by two code paths, and so does the per-minute count
of outcomes that the Queues board charts (``jobs.throughput``).

Nobody listening, nothing sent. A socket adds its channel to ``jobserver:live:listeners:<group>``
(:func:`listen`) before it joins the group and refreshes it with every heartbeat; the publisher asks
Redis which groups of a batch have listeners (one pipelined ``SCARD``) and leaves the others out. Each
publisher keeps an answer for ``LISTENER_CACHE_S`` (50 ms), so under load a process asks a few
times a second, not once per event, and ``publish_*`` drops an event at once while "nobody" is
fresh; in exchange a socket waits ``LISTENER_CACHE_S`` after registering before it accepts. No
event is lost to either: an answer given before a socket registered has expired before that socket
accepts, so any event published after the handshake is checked against a registry that holds the
socket (and an event is published only after its transaction committed). An entry left behind by
a killed web server only costs sends until its key expires (``LISTENER_TTL_S``).

Ordering and volume. All sends of one process go through one publisher thread, in the order
``publish_*`` was called: the events of one job arrive in order. The thread takes whatever queued
up while it was sending as one batch (one listener check, then the sends on an event loop it owns,
so the Redis connections stay open). ``progress`` and ``delta`` events are coalesced per job: the
first one opens a buffer that is flushed ``LIVE_COALESCE_MS`` (default 50 ms) later, so a handler
streaming 1,000 deltas a second costs the layer and the browser about 20 ``delta`` + 20
``progress`` messages a second. A flush sends one ``delta`` whose ``content`` is every buffered
text concatenated in order, then one ``progress`` with the latest value (in the order each kind
first appeared in the buffer). Any other event of the job (``completed``, ``failed``,
``cancelled`` ...) first queues that job's buffer, so no text is lost or held behind the outcome.
``publish_*`` never waits for Redis; ``flush_job``/``flush_all`` and process exit wait (at most
``LIVE_SEND_TIMEOUT_S``) until everything queued before them is on the layer.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

JOB_EVENTS = ("waiting", "active", "progress", "delta", "completed", "failed", "cancelled")
SCHEDULE_EVENTS = ("fired", "paused", "resumed", "ended")
# A flow's own events (flows.events; the original's flowWebSocketService names).
FLOW_EVENTS = ("flow:created", "flow:updated", "flow:completed", "flow:deleted", "flow:job:updated")
# Bursty events that are merged in the publisher (see the module docstring); all others go at once.
COALESCED_EVENTS = ("progress", "delta")
# Envelope ``type`` of every channel-layer message: consumers handle it in ``job_event``.
MESSAGE_TYPE = "job.event"


def user_group(user_id: int) -> str:
    """The channel-layer group of every event of user ``user_id``'s jobs and schedules."""
    return f"user.{user_id}"


def now_ms() -> int:
    return int(time.time() * 1000)


def job_event_message(job, event: str, **extra: Any) -> dict:
    """The websocket/webhook message for ``event`` on ``job`` (API.md's Live updates shape).

    ``jobId`` is the job's public id (BullMQ's job id, :attr:`jobs.models.Job.public_id`);
    ``queueName`` its named queue (JobRunner v0.0.2's events carry it)."""
    message = {
        "event": event,
        "jobId": job.public_id,
        "name": job.name,
        "queueName": job.queue,
        "state": job.state,
        "scheduleId": job.scheduler_id,
        "timestamp": now_ms(),
    }
    if getattr(job, "flow_id", None) is not None:  # a flow's job (docs/flows.md)
        message["flowId"] = job.flow_id
    message.update(extra)
    return message


def publish_job_event(job, event: str, **extra: Any) -> dict:
    """Publish one job event to the owner's group; returns the message.

    ``event`` is one of :data:`JOB_EVENTS`; ``extra`` adds fields (``progress``, ``content``,
    ``result``, ``error``). ``progress``/``delta`` are coalesced (module docstring); any other event
    queues the job's buffer before itself. Returns without waiting for Redis and never raises: a
    dead layer must not fail a job (its outcome is stored; a page resyncs by snapshot).
    """
    message = job_event_message(job, event, **extra)
    groups = [user_group(job.owner_id)]
    _publisher().publish(f"job:{job.pk}", groups, message, coalesce=event in COALESCED_EVENTS)
    if event in ("completed", "failed"):  # a job's outcome: counted for the Queues board's chart
        from .queues import queues_of
        from .throughput import record

        record(owner_id=job.owner_id, queues=queues_of(job), outcome=event)
    for subscriber in _subscribers:
        try:
            subscriber(job=job, message=message)
        except Exception:  # a subscriber's fault must not fail the job (its outcome is stored)
            logger.warning("job event subscriber %r failed", subscriber, exc_info=True)
    return message


JobEventSubscriber = Callable[..., None]
_subscribers: list[JobEventSubscriber] = []


def subscribe(subscriber: JobEventSubscriber) -> None:
    """Call ``subscriber(job=job, message=message)`` for every job event published in this process,
    after the event went to the owner's live group (``message`` as sent there). Apps register in their
    ``AppConfig.ready`` (webhooks: its fan-out), so ``jobs`` depends on none of them. Idempotent."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def publish_schedule_event(schedule, event: str, **extra: Any) -> dict:
    """Publish a schedule event (``fired``, ``paused``, ``resumed``, ``ended``) to the owner's group."""
    message = {
        "event": event,
        "scheduleId": schedule.scheduler_id,
        "name": schedule.name,
        "state": schedule.state,
        "timestamp": now_ms(),
    }
    message.update(extra)
    _publisher().publish(f"schedule:{schedule.pk}", [user_group(schedule.owner_id)], message, coalesce=False)
    return message


def publish_flow_event(owner_id: int, flow_key: str, message: dict, *, job_pk: int | None = None) -> dict:
    """Publish a flow event (``message["event"]``: ``flow:created``, ``flow:updated``,
    ``flow:completed``, ``flow:deleted``, ``flow:job:updated``; docs/flows.md) to the owner's group,
    in order with the other events of ``flow_key`` (the flow's id). With ``job_pk`` (a job's progress)
    it is coalesced with that job's ``progress`` events instead (module docstring), so a chatty
    handler costs a flow's listeners no more than its own. Never raises, as :func:`publish_job_event`."""
    if job_pk is not None:
        _publisher().publish(f"job:{job_pk}", [user_group(owner_id)], message, coalesce=True)
    else:
        _publisher().publish(f"flow:{flow_key}", [user_group(owner_id)], message, coalesce=False)
    return message


SESSION_END_TYPE = "session.end"


def end_user_sessions(user_id: int) -> None:
    """Close every open websocket of user ``user_id`` (deactivated): one message to the user's group,
    which each socket of the user handles by closing with 4401. Never raises (a socket whose close is
    lost still finds the user inactive at its next heartbeat, ``LIVE_PING_SECONDS``)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    try:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": SESSION_END_TYPE})
    except Exception:
        logger.warning("could not close the websockets of user %s", user_id, exc_info=True)


def flush_job(job_id: int) -> None:
    """Send job ``job_id``'s buffered ``progress``/``delta`` now and wait until they are on the layer.

    Not needed around terminal events (they flush their job themselves); useful before a process
    exits or when a test wants the stream drained.
    """
    _publisher().flush(f"job:{job_id}")


def flush_all() -> None:
    """Send every buffered event of this process now (e.g. at worker shutdown) and wait."""
    _publisher().flush(None)


# --- who listens ----------------------------------------------------------------------------------------

LISTENER_PREFIX = "jobserver:live:listeners:"
# Seconds an entry outlives its socket's last heartbeat (LIVE_PING_SECONDS refreshes it).
LISTENER_TTL_S = 3600
# Seconds a publisher trusts an answer of the registry, and so how long a new listener waits after
# registering before it counts on receiving events (module docstring).
LISTENER_CACHE_S = 0.05


def listen(group: str, channel_name: str) -> None:
    """Register ``channel_name`` as listening to ``group`` (call before joining it, and per heartbeat).

    Events queued from ``LISTENER_CACHE_S`` after the first registration on are sent to ``group``.
    """
    from config.redis_client import redis_client

    key = LISTENER_PREFIX + group
    pipe = redis_client().pipeline(transaction=False)
    pipe.sadd(key, channel_name)
    pipe.expire(key, LISTENER_TTL_S)
    pipe.execute()


def unlisten(group: str, channel_name: str) -> None:
    """Remove ``channel_name`` from ``group``'s listeners (call after leaving the group)."""
    from config.redis_client import redis_client

    redis_client().srem(LISTENER_PREFIX + group, channel_name)


def _listened(groups: list[str]) -> set[str]:
    """Which of ``groups`` have a listener: one pipelined round trip. Redis down: all of them."""
    from config.redis_client import redis_client

    try:
        pipe = redis_client().pipeline(transaction=False)
        for group in groups:
            pipe.scard(LISTENER_PREFIX + group)
        return {group for group, count in zip(groups, pipe.execute(), strict=True) if count}
    except Exception:  # the layer decides; sending to nobody is harmless
        logger.warning("could not read live listeners; sending to every group", exc_info=True)
        return set(groups)


# --- the publisher ----------------------------------------------------------------------------------------


class _Buffer:
    """Pending coalesced messages of one job: one merged message per event kind, in first-seen order."""

    __slots__ = ("groups", "messages", "due")

    def __init__(self, groups: list[str], due: float):
        self.groups = groups
        self.messages: dict[str, dict] = {}
        self.due = due  # time.monotonic() at which the buffer is sent

    def add(self, message: dict) -> None:
        kind = message["event"]
        pending = self.messages.get(kind)
        if kind == "delta" and pending is not None:
            content = pending.get("content", "") + str(message.get("content", ""))
            self.messages[kind] = {**message, "content": content}
        else:
            # progress keeps only the latest value; its position stays where the kind first appeared
            self.messages[kind] = message


class _Publisher:
    """One per process: a daemon thread that sends queued messages in call order, batch by batch.

    The queue holds ``(groups, message)`` pairs and :class:`Future` markers (resolved once
    everything queued before them was sent). Coalesced messages wait in ``buffers`` until due.
    """

    def __init__(self):
        self.pid = os.getpid()
        self.window_s = getattr(settings, "LIVE_COALESCE_MS", 50) / 1000
        self.timeout_s = getattr(settings, "LIVE_SEND_TIMEOUT_S", 5.0)
        self.listened: dict[str, tuple[bool, float]] = {}  # group → (has listeners, trusted until)
        self.cond = threading.Condition()
        self.queue: deque = deque()
        self.buffers: dict[str, _Buffer] = {}
        # Owned by the thread and never left running, so the thread may also do synchronous work.
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
        self.thread.start()

    # --- called from any thread -------------------------------------------------------------------
    def publish(self, key: str, groups: list[str], message: dict, *, coalesce: bool) -> None:
        if self._nobody_listens(groups):
            return  # a fresh cached answer: no need to queue it or wake the thread
        with self.cond:
            if coalesce and self.window_s > 0:
                buffer = self.buffers.get(key)
                if buffer is None:
                    buffer = self.buffers[key] = _Buffer(groups, time.monotonic() + self.window_s)
                    self.cond.notify()  # the thread's next wake-up may now be sooner
                buffer.add(message)
                return
            self._queue_buffers(key)
            self.queue.append((groups, message))
            self.cond.notify()

    def flush(self, key: str | None) -> None:
        """Queue ``key``'s buffer (every buffer if ``None``) and wait until all queued so far is sent."""
        done: Future = Future()
        with self.cond:
            self._queue_buffers(key)
            self.queue.append(done)
            self.cond.notify()
        try:
            done.result(self.timeout_s)
        except Exception:  # the outcome is stored; a lost live update is recoverable by snapshot
            logger.warning("could not publish live events within %ss", self.timeout_s, exc_info=True)

    def _nobody_listens(self, groups: list[str]) -> bool:
        # Read without the lock: the thread replaces entries whole, so each read is one consistent tuple.
        now = time.monotonic()
        for group in groups:
            answer = self.listened.get(group)
            if answer is None or answer[0] or answer[1] <= now:
                return False
        return True

    def _queue_buffers(self, key: str | None) -> None:
        # Under self.cond. Whatever was buffered before the caller's message goes out before it.
        if key is None:
            taken, self.buffers = list(self.buffers.values()), {}
        else:
            buffer = self.buffers.pop(key, None)
            taken = [buffer] if buffer is not None else []
        for buffer in taken:
            self.queue.extend((buffer.groups, pending) for pending in buffer.messages.values())

    # --- on the publisher thread ------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        while True:
            with self.cond:
                while True:
                    # Due buffers join every batch, so a steady stream of other events cannot starve them.
                    now = time.monotonic()
                    for key in [key for key, buffer in self.buffers.items() if buffer.due <= now]:
                        self._queue_buffers(key)
                    if self.queue:
                        break
                    wait = min((b.due for b in self.buffers.values()), default=None)
                    self.cond.wait(None if wait is None else max(0.0, wait - now))
                batch, self.queue = list(self.queue), deque()
            try:
                self._send_batch(batch)
            except Exception:  # never let one failed batch stop the publisher
                logger.warning("could not publish %s live messages", len(batch), exc_info=True)
            for item in batch:
                if isinstance(item, Future) and not item.done():
                    item.set_result(None)

    def _send_batch(self, batch: list) -> None:
        from channels.layers import get_channel_layer

        sends = [item for item in batch if not isinstance(item, Future)]
        layer = get_channel_layer() if sends else None
        if layer is None:
            return
        listened = self._listened_cached(sorted({group for groups, _ in sends for group in groups}))
        due = [(group, message) for groups, message in sends for group in groups if group in listened]
        if due:
            self.loop.run_until_complete(self._send(layer, due))

    def _listened_cached(self, groups: list[str]) -> set[str]:
        """:func:`_listened` through this publisher's ``LISTENER_CACHE_S`` cache of answers."""
        now = time.monotonic()
        known = {g: self.listened[g][0] for g in groups if g in self.listened and self.listened[g][1] > now}
        unknown = [g for g in groups if g not in known]
        if unknown:
            answer = _listened(unknown)
            if len(self.listened) > 10_000:
                self.listened = {g: v for g, v in self.listened.items() if v[1] > now}
            for group in unknown:
                known[group] = group in answer
                self.listened[group] = (known[group], now + LISTENER_CACHE_S)
        return {group for group, listened in known.items() if listened}

    async def _send(self, layer, due: list[tuple[str, dict]]) -> None:
        for group, message in due:
            try:
                await layer.group_send(group, {"type": MESSAGE_TYPE, "group": group, "message": message})
            except Exception:  # one failed send must not hold back the rest
                logger.warning("could not publish %s to %s", message.get("event"), group, exc_info=True)


_state: dict[str, _Publisher] = {}
_state_lock = threading.Lock()


def _publisher() -> _Publisher:
    # A forked Celery child inherits the parent's object but not its thread: make a fresh one.
    publisher = _state.get("publisher")
    if publisher is None or publisher.pid != os.getpid():
        with _state_lock:
            publisher = _state.get("publisher")
            if publisher is None or publisher.pid != os.getpid():
                publisher = _state["publisher"] = _Publisher()
    return publisher


@atexit.register
def _flush_at_exit() -> None:
    publisher = _state.get("publisher")
    if publisher is not None and publisher.pid == os.getpid():
        publisher.flush(None)
