"""``/ws/jobs/``: live job and schedule events for their owner (API.md: Live updates).

Protocol (JSON text frames):

- Authentication, first that is present wins: ``?token=<access JWT>``, then an API key
  (``?apiKey=`` or an ``X-API-Key`` header), then the browser's session cookie. A socket without
  valid credentials (or with explicit credentials that are bad, even if a session exists) is
  accepted and closed at once with code 4401, so clients can tell "unauthorised" from a network
  failure; nothing is sent before the close.
- On connect the socket receives every event of the user's own jobs and schedules published after
  the handshake completed (it joins before it accepts).
- ``{"action": "subscribe", "jobId": ...}`` narrows the socket to that job: from the first
  subscribe on, job events arrive only for subscribed jobs (each further subscribe adds one);
  schedule events keep coming. ``{"action": "unsubscribe", "jobId": ...}`` removes one; after the
  last one the socket is back to all of the user's jobs. Both answer ``{"event": "subscribed" |
  "unsubscribed", "jobId"}``. A job that is not the user's (or does not exist) answers
  ``{"event": "error", "message": ..., "jobId"}`` and changes nothing. ``jobId`` is read as in
  ``GET /jobs/{jobId}`` (numeric, custom or ``repeat:`` id, :mod:`jobs.ids`); the answer and the
  events carry the job's public id.
- Flows (docs/flows.md): the owner also gets ``flow:created``, ``flow:updated``, ``flow:completed``,
  ``flow:deleted`` and ``flow:job:updated`` events (each with ``flowId``; a flow's job events carry
  ``flowId`` too). ``{"action": "subscribe" | "unsubscribe", "flowId": ...}`` narrows the socket to a
  flow of the user's as a job subscription does (its flow events and its jobs' events pass), answered
  ``{"event": "subscribed" | "unsubscribed", "flowId"}``; another user's flow answers ``{"event":
  "error", "message", "flowId"}``.
- ``{"action": "snapshot", "jobId": ...}`` answers ``{"event": "snapshot", ...the job as GET
  /jobs/{jobId}}`` so a page that reconnects can resync.
- A user who is deactivated (``is_active`` off) has every open socket closed with 4401 at once (a
  signal of the save; otherwise at the next heartbeat) and is sent nothing more.
- ``{"action": "ping"}`` answers ``{"event": "pong", "timestamp"}``; the server sends
  ``{"event": "ping", "timestamp"}`` every ``LIVE_PING_SECONDS`` (default 25 s) so proxies keep an
  idle socket open. Dead sockets are dropped by uvicorn's websocket ping (``--ws-ping-interval``,
  ``--ws-ping-timeout``, 20 s each by default).
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.http import Http404

from accounts.services import user_for_access_token, user_for_api_key

from . import realtime, selectors
from .api.serializers import job_to_dict
from .models import Job
from .realtime import SCHEDULE_EVENTS, listen, now_ms, unlisten, user_group

CLOSE_UNAUTHORISED = 4401
logger = logging.getLogger(__name__)
# Redis calls of the listener registry, off the event loop (they are short; no database involved).
_listen = sync_to_async(listen, thread_sensitive=False)
_unlisten = sync_to_async(unlisten, thread_sensitive=False)


def _credentials(scope) -> tuple[str | None, str | None]:
    """``(access JWT, API key)`` from the query string and headers of a websocket scope."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = (query.get("token") or [None])[0]
    api_key = (query.get("apiKey") or [None])[0]
    if api_key is None:
        for name, value in scope.get("headers", []):
            if name.lower() == b"x-api-key":
                api_key = value.decode("latin-1")
                break
    return token, api_key


@database_sync_to_async
def socket_user(scope):
    """The user a websocket scope authenticates as, or ``None`` (rules in the module docstring)."""
    token, api_key = _credentials(scope)
    if token is not None:
        return user_for_access_token(token)
    if api_key is not None:
        return user_for_api_key(api_key)
    user = scope.get("user")
    if user is not None and user.is_authenticated and user.is_active:
        return user
    return None


@database_sync_to_async
def _is_active(user_id: int) -> bool:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id, is_active=True).exists()


@database_sync_to_async
def _public_id_for(user, job_id) -> str | None:
    """The public id of the user's job named ``job_id``, or ``None``; ownership and the reading of
    the id are the selector's, as for GET /jobs/{jobId}."""
    try:
        return selectors.job_get(user=user, job_id=job_id).public_id
    except Http404:
        return None


@database_sync_to_async
def _owns_flow(user, flow_id: str) -> bool:
    """Whether ``flow_id`` names a flow of ``user`` (its jobs are the user's: one indexed query)."""
    return Job.objects.owned_by(user).filter(flow_id=flow_id).exists()


@database_sync_to_async
def _snapshot(user, job_id) -> dict | None:
    try:
        job = selectors.job_get(user=user, job_id=job_id)
    except Http404:
        return None
    return {**job_to_dict(job), "event": "snapshot"}


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    """One browser tab or script: the owner's job events, filtered by its subscriptions."""

    user = None  # the authenticated user; None before connect and once the session ended
    user_id: int | None = None  # kept after the session ended, to leave the group on disconnect
    subscriptions: set[str]
    flow_subscriptions: set[str]
    heartbeat: asyncio.Task | None = None

    async def connect(self):
        self.subscriptions = set()
        self.flow_subscriptions = set()
        user = await socket_user(self.scope)
        if user is None:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        self.user, self.user_id = user, user.pk
        # Registered before joining (the publisher leaves out groups nobody listens to, jobs.realtime),
        # and both, plus the publishers' answer cache, before accepting: once the socket is open,
        # every later event reaches it.
        await _listen(user_group(user.pk), self.channel_name)
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await asyncio.sleep(realtime.LISTENER_CACHE_S)
        await self.accept()
        self.heartbeat = asyncio.create_task(self._heartbeat(getattr(settings, "LIVE_PING_SECONDS", 25)))

    async def disconnect(self, code):
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        if self.user_id is None:
            return
        await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
        await _unlisten(user_group(self.user_id), self.channel_name)

    async def _heartbeat(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            if self.user is None:
                return
            # A user deactivated without a signal (a bulk UPDATE) is caught here at the latest.
            if not await _is_active(self.user.pk):
                await self.session_end({"type": realtime.SESSION_END_TYPE})
                return
            await self.send_json({"event": "ping", "timestamp": now_ms()})
            try:
                await _listen(user_group(self.user.pk), self.channel_name)
            except Exception:  # Redis away: the next heartbeat tries again
                logger.warning("could not refresh a live listener", exc_info=True)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # A frame that is not JSON is the client's mistake: answer it, do not crash the socket.
        try:
            content = json.loads(text_data if text_data is not None else bytes_data)
        except (TypeError, ValueError):
            await self._error(None, "message: must be a JSON object with an action")
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if self.user is None:
            return
        action = content.get("action") if isinstance(content, dict) else None
        job_id = str(content.get("jobId", "")) if isinstance(content, dict) else ""
        if action == "ping":
            await self.send_json({"event": "pong", "timestamp": now_ms()})
        elif action in ("subscribe", "unsubscribe") and isinstance(content, dict) and "flowId" in content:
            await self._flow_subscription(action, str(content.get("flowId"))[:80])
        elif action in ("subscribe", "unsubscribe", "snapshot"):
            await getattr(self, f"_{action}")(job_id)
        else:
            await self._error(None, "action: must be one of subscribe, unsubscribe, snapshot, ping")

    async def _subscribe(self, job_id: str) -> None:
        key = await _public_id_for(self.user, job_id)
        if key is None:
            await self._error(job_id[:40], f"jobId: no job {job_id[:40]!r} of yours")
            return
        self.subscriptions.add(key)
        await self.send_json({"event": "subscribed", "jobId": key})

    async def _flow_subscription(self, action: str, flow_id: str) -> None:
        """``{action: subscribe|unsubscribe, flowId}``: narrow the socket to a flow of the user's (its
        ``flow:*`` events and its jobs' events; docs/flows.md); another user's flow is refused."""
        if action == "unsubscribe":
            if flow_id not in self.flow_subscriptions:
                message = f"flowId: not subscribed to {flow_id!r}"
                await self.send_json({"event": "error", "message": message, "flowId": flow_id})
                return
            self.flow_subscriptions.discard(flow_id)
            await self.send_json({"event": "unsubscribed", "flowId": flow_id})
            return
        if not await _owns_flow(self.user, flow_id):
            message = f"flowId: no flow {flow_id!r} of yours"
            await self.send_json({"event": "error", "message": message, "flowId": flow_id})
            return
        self.flow_subscriptions.add(flow_id)
        await self.send_json({"event": "subscribed", "flowId": flow_id})

    async def _unsubscribe(self, job_id: str) -> None:
        # Any id of the job undoes its subscription; a job deleted meanwhile by the id it was subscribed as.
        key = job_id if job_id in self.subscriptions else await _public_id_for(self.user, job_id)
        if key not in self.subscriptions:
            await self._error(job_id[:40], f"jobId: not subscribed to {job_id[:40]!r}")
            return
        self.subscriptions.discard(key)
        await self.send_json({"event": "unsubscribed", "jobId": key})

    async def _snapshot(self, job_id: str) -> None:
        body = await _snapshot(self.user, job_id)
        if body is None:
            await self._error(job_id[:40], f"jobId: no job {job_id[:40]!r} of yours")
            return
        await self.send_json(body)

    async def _error(self, job_id: str | None, message: str) -> None:
        await self.send_json({"event": "error", "message": message, "jobId": job_id})

    async def session_end(self, envelope: dict) -> None:
        """The user was deactivated (:func:`jobs.realtime.end_user_sessions`): close with 4401, and
        send nothing more, whatever arrives before the close completes."""
        if self.user is None:
            return
        self.user = None
        await self.close(code=CLOSE_UNAUTHORISED)

    async def job_event(self, envelope: dict) -> None:
        """A message from :mod:`jobs.realtime`: ``{"type", "group", "message"}``."""
        if self.user is None:
            return
        message = envelope["message"]
        # Narrowed: only the subscribed jobs' events pass; schedule events always do. (Any event
        # that is not a schedule event is a job's, e.g. "delayed" from job_enqueue.)
        # A socket narrowed to flows passes their flow events and their jobs' events (docs/flows.md).
        is_job_event = message.get("event") not in SCHEDULE_EVENTS
        if (self.subscriptions or self.flow_subscriptions) and is_job_event and not (
            message.get("jobId") in self.subscriptions or message.get("flowId") in self.flow_subscriptions
        ):
            return
        await self.send_json(message)
