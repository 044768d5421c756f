"""Job and schedule events: the one function that publishes them, and the group names.

Every job event goes to the owner's group (``user.<id>``) and the job's group (``job.<id>``) on the
Redis channel layer, which is the only path from workers to browsers; schedule events go to the
owner's group. Webhook fan-out hangs off the same function so no event is published twice by two
code paths.

Ordering and volume. All sends of one process go through one publisher thread that owns an event
loop (so the Redis connections stay open instead of one per event) and sends one message at a time,
in the order ``publish_*`` was called: the events of one job arrive in order. ``progress`` and
``delta`` events are coalesced per job: the first one opens a buffer that is flushed
``LIVE_COALESCE_MS`` (default 50 ms) later, so a handler streaming 1,000 deltas a second costs the
layer and the browser about 20 ``delta`` + 20 ``progress`` messages a second. A flush sends one
``delta`` whose ``content`` is every buffered text concatenated in order, then one ``progress``
with the latest value (in the order each kind first appeared in the buffer). Any other event of the
job (``completed``, ``failed``, ``cancelled`` ...) first sends that job's buffer, so no text is lost
or held behind the outcome. ``publish_*`` never waits for Redis: sends are queued in call order;
``flush_job``/``flush_all`` and process exit wait (at most ``LIVE_SEND_TIMEOUT_S``) until everything
queued before them is on the layer.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

JOB_EVENTS = ("waiting", "active", "progress", "delta", "completed", "failed", "cancelled")
SCHEDULE_EVENTS = ("fired", "paused", "resumed", "ended")
# Bursty events that are merged in the publisher (see the module docstring); all others go at once.
COALESCED_EVENTS = ("progress", "delta")
# Envelope ``type`` of every channel-layer message: consumers handle it in ``job_event``.
MESSAGE_TYPE = "job.event"


def user_group(user_id: int) -> str:
    """The channel-layer group of every event of user ``user_id``'s jobs and schedules."""
    return f"user.{user_id}"


def job_group(job_id: int) -> str:
    """The channel-layer group of the events of job ``job_id`` only."""
    return f"job.{job_id}"


def now_ms() -> int:
    return int(time.time() * 1000)


def job_event_message(job, event: str, **extra: Any) -> dict:
    """The websocket/webhook message for ``event`` on ``job`` (API.md's Live updates shape)."""
    message = {
        "event": event,
        "jobId": str(job.pk),
        "name": job.name,
        "state": job.state,
        "scheduleId": job.schedule.scheduler_id if job.schedule_id else None,
        "timestamp": now_ms(),
    }
    message.update(extra)
    return message


def publish_job_event(job, event: str, **extra: Any) -> dict:
    """Publish one job event to the owner's and the job's groups; returns the message.

    ``event`` is one of :data:`JOB_EVENTS`; ``extra`` adds fields (``progress``, ``content``,
    ``result``, ``error``). ``progress``/``delta`` are coalesced (module docstring); any other event
    flushes the job's buffer first and returns once sent. Never raises: a dead layer must not fail
    a job (its outcome is stored; a page resyncs by snapshot).
    """
    message = job_event_message(job, event, **extra)
    groups = [user_group(job.owner_id), job_group(job.pk)]
    _publisher().publish(f"job:{job.pk}", groups, message, coalesce=event in COALESCED_EVENTS)
    from webhooks.services import webhook_fan_out  # lazy: webhooks imports jobs

    webhook_fan_out(owner_id=job.owner_id, message=message)
    return message


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


def flush_job(job_id: int) -> None:
    """Send job ``job_id``'s buffered ``progress``/``delta`` now and wait until they are on the layer.

    Not needed around terminal events (they flush their job themselves); useful before a process
    exits or when a test wants the stream drained.
    """
    _publisher().flush(f"job:{job_id}")


def flush_all() -> None:
    """Send every buffered event of this process now (e.g. at worker shutdown) and wait."""
    _publisher().flush(None)


class _Buffer:
    """Pending coalesced messages of one job: one merged message per event kind, in first-seen order."""

    __slots__ = ("groups", "messages")

    def __init__(self, groups: list[str]):
        self.groups = groups
        self.messages: dict[str, dict] = {}

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
    """One per process: a daemon thread running an event loop that sends everything, in call order."""

    def __init__(self):
        self.pid = os.getpid()
        self.window_s = getattr(settings, "LIVE_COALESCE_MS", 50) / 1000
        self.timeout_s = getattr(settings, "LIVE_SEND_TIMEOUT_S", 5.0)
        self.buffers: dict[str, _Buffer] = {}
        self.buffers_lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.send_lock: asyncio.Lock | None = None
        self.flushes: set[asyncio.Task] = set()  # strong references: the loop keeps only weak ones
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="live-publisher", daemon=True)
        self.thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        # Created on the loop so that its FIFO wake-up order is the order sends were scheduled.
        self.send_lock = asyncio.Lock()
        ready.set()
        self.loop.run_forever()

    # --- called from any thread -------------------------------------------------------------------
    def publish(self, key: str, groups: list[str], message: dict, *, coalesce: bool) -> None:
        if coalesce and self.window_s > 0:
            with self.buffers_lock:
                buffer = self.buffers.get(key)
                opened = buffer is None
                if opened:
                    buffer = self.buffers[key] = _Buffer(groups)
                buffer.add(message)
            if opened:
                self.loop.call_soon_threadsafe(self._schedule_flush, key)
            return
        # Not awaited: sends run one at a time in call order on the publisher loop (FIFO lock), so
        # order holds without making the job wait for Redis; exit and flush_job() wait for them.
        asyncio.run_coroutine_threadsafe(self._flush_then_send(key, groups, message), self.loop)

    def flush(self, key: str | None) -> None:
        self._wait(self._flush_then_send(key, None, None))

    def _wait(self, coro) -> None:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            future.result(self.timeout_s)
        except Exception:  # the outcome is stored; a lost live update is recoverable by snapshot
            logger.warning("could not publish a live event within %ss", self.timeout_s, exc_info=True)

    # --- on the publisher loop ----------------------------------------------------------------------
    def _schedule_flush(self, key: str) -> None:
        self.loop.call_later(self.window_s, self._start_flush, key)

    def _start_flush(self, key: str) -> None:
        task = self.loop.create_task(self._flush_then_send(key, None, None))
        self.flushes.add(task)
        task.add_done_callback(self.flushes.discard)

    def _take(self, key: str | None) -> list[_Buffer]:
        with self.buffers_lock:
            if key is None:
                taken, self.buffers = list(self.buffers.values()), {}
                return taken
            buffer = self.buffers.pop(key, None)
            return [buffer] if buffer is not None else []

    async def _flush_then_send(self, key: str | None, groups: list[str] | None, message: dict | None) -> None:
        async with self.send_lock:
            # Taking the buffer inside the lock keeps order: whatever was buffered before this call
            # goes out before ``message``, whatever comes after waits for a later flush.
            for buffer in self._take(key):
                for pending in buffer.messages.values():
                    await self._send(buffer.groups, pending)
            if message is not None:
                await self._send(groups, message)

    async def _send(self, groups: list[str], message: dict) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        try:
            for group in groups:
                await layer.group_send(group, {"type": MESSAGE_TYPE, "group": group, "message": message})
        except Exception:  # never let one failed send stop the publisher or the job
            logger.warning("could not publish %s to %s", message.get("event"), groups, exc_info=True)


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
