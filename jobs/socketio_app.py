"""Socket.IO v4 at ``/socket.io/`` (both transports) for the clients of the system we port, served by
the same ASGI application as Channels (``config.asgi``) with python-socketio's ``AsyncServer``.

Protocol (JobRunner's ``src/config/socket.ts`` and ``src/events/*.ts``):

- Auth from the handshake: ``auth: {token}`` (an access JWT; an API key sent as ``token`` works too,
  as in the original) or ``auth: {apiKey}``. Without valid credentials the connection is refused and
  the client gets ``connect_error`` ("Authentication error: ...").
- On connect the socket joins room ``user:<id>`` and receives every event of the user's jobs:
  ``job:progress {jobId, jobName, progress}``, ``job:completed {jobId, jobName, result}``,
  ``job:failed {jobId, jobName, error}``, ``job:delta {jobId, jobName, userId, content}`` and, as the
  original's later version, ``job:active {jobId, jobName}``; ours beside them: ``job:waiting``,
  ``job:delayed``, ``job:cancelled`` and ``schedule:fired|paused|resumed|ended``. Every payload also
  carries ``state``, ``scheduleId`` and ``timestamp`` (epoch ms).
- ``subscribe:job`` / ``unsubscribe:job`` (a bare job id, read as in ``GET /jobs/{jobId}``: numeric,
  custom or ``repeat:`` id) join / leave room ``job:<public id>``, which
  receives ``job:<id>:progress {jobId, progress}``, ``:completed {jobId, result}``, ``:failed {jobId,
  error}``, ``:delta {jobId, content}``, ``:active {jobId}``. Unlike the original, only the job's owner
  may subscribe: another user's (or an unknown) job is refused with an ``error`` event ``{event:
  "subscribe:job", jobId, message}`` and the same body as the acknowledgement; nothing of that job is
  ever sent. A subscription that succeeds is acknowledged ``{ok: true, jobId}``.
- Flows (docs/flows.md): the user's room gets ``flow:created`` (FlowResponse), ``flow:updated``
  ``{flowId, status, progress, updatedAt}``, ``flow:job:updated`` ``{flowId, jobId, jobStatus, result?,
  error?, progress?}``, ``flow:completed`` ``{flowId, result, completedAt}`` and ``flow:deleted``
  ``{flowId, timestamp, message}`` (the original sent all but the last to every socket). ``join-flow`` /
  ``leave-flow`` (a flow id) join / leave room ``flow:<id>``, which gets ``flow:progress``,
  ``flow:job:progress``, ``flow:finished`` and ``flow:deleted`` with the same payloads; only the
  flow's owner may join (else an ``error`` event ``{event: "join-flow", flowId, message}``).
- ``request:job-status`` (a job id) is answered by ``job-status-response {jobId, status, progress,
  result, failedReason}`` with the job's real state (the original sent a placeholder); for a job that
  is not the user's: ``{jobId, status: null, error}``.

One publish path, both protocols: events are not published for Socket.IO separately. Each web process
relays the Channels group ``user.<id>`` (``jobs.realtime``: the same coalesced, ordered messages
``/ws/jobs/`` gets) of every user with a Socket.IO connection on it into that user's rooms: one relay
channel per (process, user), registered in the publisher's listener registry like a websocket, so the
publisher sends nothing for users nobody listens to. That is why the server's client manager is the
in-memory one and not ``AsyncRedisManager``: the channel layer already carries events from workers
to every web process (STYLE: "the Redis channel layer is the only one that reaches browsers from
workers"), and a Redis manager would deliver each event once per web process holding the user's
relay. A connection therefore needs sticky sessions for the polling transport across several web
processes, as python-socketio requires anyway.
"""

from __future__ import annotations

import asyncio
import logging

import socketio
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import Http404

from accounts.services import user_for_access_token, user_for_api_key

from . import realtime, selectors
from .models import Job
from .realtime import FLOW_EVENTS, MESSAGE_TYPE, SCHEDULE_EVENTS, listen, unlisten, user_group

logger = logging.getLogger(__name__)
_listen = sync_to_async(listen, thread_sensitive=False)
_unlisten = sync_to_async(unlisten, thread_sensitive=False)

# Our event → what the job's owner room and the job's room get (the original's names and keys).
_ORIGINAL_KEYS = {"progress": "progress", "completed": "result", "failed": "error", "delta": "content"}
_EXTRA_KEYS = ("state", "scheduleId", "queueName", "timestamp")  # queueName: JobRunner v0.0.2


def _cors_origins():
    """engine.io's allowed origins: the CORS setting's list, or any (``*``) when CORS is open.

    A Socket.IO connection authenticates with a token or key the page holds, never with a cookie, so
    another origin cannot borrow a user's session through it."""
    if getattr(settings, "CORS_ALLOW_ALL_ORIGINS", True):
        return "*"
    return list(settings.CORS_ALLOWED_ORIGINS)


sio = socketio.AsyncServer(
    async_mode="asgi",
    cors_allowed_origins=_cors_origins(),
    ping_interval=settings.SOCKETIO_PING_INTERVAL_S,
    ping_timeout=settings.SOCKETIO_PING_TIMEOUT_S,
    logger=False,
    engineio_logger=False,
)


# A flow event → what the flow's room ``flow:<id>`` gets (the original's flowWebSocketService names).
_FLOW_ROOM_EVENTS = {
    "flow:updated": "flow:progress", "flow:job:updated": "flow:job:progress",
    "flow:completed": "flow:finished", "flow:deleted": "flow:deleted",
}


def job_payloads(message: dict) -> list[tuple[str, str, dict]]:
    """``[(room, event name, payload), ...]`` Socket.IO sends for one ``jobs.realtime`` message."""
    event = message.get("event")
    if event in FLOW_EVENTS:
        user_room = f"user:{message.get('userId')}"
        payload = {k: v for k, v in message.items() if k not in ("userId", "event")}
        sends = [(user_room, str(event), payload)]
        if event in _FLOW_ROOM_EVENTS:
            sends.append((f"flow:{message.get('flowId')}", _FLOW_ROOM_EVENTS[str(event)], payload))
        return sends
    extras = {key: message.get(key) for key in _EXTRA_KEYS}
    if event in SCHEDULE_EVENTS:
        user_room = f"user:{message.get('userId')}"
        return [(user_room, f"schedule:{event}", {k: v for k, v in message.items() if k != "userId"})]
    job_id = message.get("jobId")
    user_room = f"user:{message.get('userId')}"
    key = _ORIGINAL_KEYS.get(event) if isinstance(event, str) else None
    to_user = {"jobId": job_id, "jobName": message.get("name")}
    to_job = {"jobId": job_id}
    if key is not None:
        to_user[key] = to_job[key] = message.get(key)
    if event == "delta":
        to_user["userId"] = message.get("userId")
    sends = [(user_room, f"job:{event}", {**to_user, **extras})]
    if key is not None or event == "active":
        sends.append((f"job:{job_id}", f"job:{job_id}:{event}", {**to_job, **extras}))
    return sends


class _Relay:
    """This process's relay of one user's Channels group into the Socket.IO rooms (module docstring)."""

    def __init__(self, user_id: int):
        self.user_id = user_id
        self.group = user_group(user_id)
        self.sockets = 0
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.ready = asyncio.Event()

    async def start(self) -> None:
        layer = get_channel_layer()
        self.channel = channel = await layer.new_channel("socketio.")
        # Registered, joined and past the publishers' answer cache before the first socket is accepted:
        # from then on every published event reaches it (jobs.realtime's guarantee for /ws/jobs/).
        await _listen(self.group, channel)
        await layer.group_add(self.group, channel)
        await asyncio.sleep(realtime.LISTENER_CACHE_S)
        self.tasks = [
            asyncio.create_task(self._run(layer, channel)),
            asyncio.create_task(self._refresh(layer, channel)),
        ]
        self.ready.set()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.channel is None:  # never started
            return
        layer = get_channel_layer()
        try:
            await layer.group_discard(self.group, self.channel)
            await _unlisten(self.group, self.channel)
        except Exception:  # Redis away: the entries expire on their own
            logger.warning("could not unregister the Socket.IO relay of user %s", self.user_id, exc_info=True)

    async def _run(self, layer, channel: str) -> None:
        while True:
            try:
                envelope = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis hiccup must not end the relay; try again shortly
                logger.warning("Socket.IO relay of user %s could not receive", self.user_id, exc_info=True)
                await asyncio.sleep(1)
                continue
            if envelope.get("type") == MESSAGE_TYPE:
                try:
                    await self._emit({**envelope["message"], "userId": self.user_id})
                except Exception:  # one bad message must not end the relay
                    logger.warning("could not emit a Socket.IO event to user %s", self.user_id, exc_info=True)

    async def _refresh(self, layer, channel: str) -> None:
        # Keep the listener entry and the group membership alive, as a websocket's heartbeat does.
        while True:
            await asyncio.sleep(getattr(settings, "LIVE_PING_SECONDS", 25))
            try:
                await _listen(self.group, channel)
                await layer.group_add(self.group, channel)
            except Exception:
                logger.warning(
                    "could not refresh the Socket.IO relay of user %s", self.user_id, exc_info=True
                )

    async def _emit(self, message: dict) -> None:
        for room, name, payload in job_payloads(message):
            await sio.emit(name, payload, to=room)


_relays: dict[int, _Relay] = {}


async def _acquire(user_id: int) -> None:
    relay = _relays.get(user_id)
    if relay is None:
        relay = _relays[user_id] = _Relay(user_id)
        relay.sockets += 1
        try:
            await relay.start()
        except Exception:
            relay.sockets -= 1
            _relays.pop(user_id, None)
            raise
    else:
        relay.sockets += 1
        await relay.ready.wait()


async def _release(user_id: int) -> None:
    relay = _relays.get(user_id)
    if relay is None:
        return
    relay.sockets -= 1
    if relay.sockets <= 0:
        _relays.pop(user_id, None)
        await relay.stop()


@database_sync_to_async
def _authenticate(auth) -> object | None:
    """The active user of the handshake's ``auth`` (``token``: access JWT, else an API key; ``apiKey``)."""
    if not isinstance(auth, dict):
        return None
    token, api_key = auth.get("token"), auth.get("apiKey")
    if isinstance(token, str) and token:
        user = user_for_access_token(token) or user_for_api_key(token)
        if user is not None:
            return user
    if isinstance(api_key, str) and api_key:
        return user_for_api_key(api_key)
    return None


@database_sync_to_async
def _own_job(user_id: int, job_id):
    from django.contrib.auth import get_user_model

    user = get_user_model()(pk=user_id)
    try:
        return selectors.job_get(user=user, job_id=job_id)
    except Http404:
        return None


@sio.event
async def connect(sid, environ, auth):
    """Handshake: authenticate, join ``user:<id>``, start (or share) the user's relay."""
    if not isinstance(auth, dict) or not (auth.get("token") or auth.get("apiKey")):
        raise socketio.exceptions.ConnectionRefusedError("Authentication error: No credentials provided")
    user = await _authenticate(auth)
    if user is None:
        raise socketio.exceptions.ConnectionRefusedError("Authentication error: invalid token or API key")
    await sio.save_session(sid, {"userId": user.pk, "username": user.username})
    await _acquire(user.pk)
    await sio.enter_room(sid, f"user:{user.pk}")


@sio.event
async def disconnect(sid, *args):
    session = await sio.get_session(sid)
    if session and "userId" in session:
        await _release(session["userId"])


def _refusal(job_id, message: str) -> dict:
    return {"ok": False, "event": "subscribe:job", "jobId": job_id, "message": message}


@sio.on("subscribe:job")
async def subscribe_job(sid, job_id):
    """Join ``job:<id>`` if the job is the caller's; else an ``error`` event (module docstring)."""
    session = await sio.get_session(sid)
    job = await _own_job(session["userId"], job_id)
    if job is None:
        refusal = _refusal(job_id, f"jobId: no job {job_id!r} of yours")
        await sio.emit("error", refusal, to=sid)
        return refusal
    # Rooms and events use the job's public id (BullMQ's job id: custom, repeat:..., or the number).
    await sio.enter_room(sid, f"job:{job.public_id}")
    return {"ok": True, "jobId": job.public_id}


@sio.on("unsubscribe:job")
async def unsubscribe_job(sid, job_id):
    """Leave ``job:<id>``, whichever id of the job names it (a deleted job's: the id as given)."""
    session = await sio.get_session(sid)
    job = await _own_job(session["userId"], job_id)
    key = job.public_id if job is not None else str(job_id)
    await sio.leave_room(sid, f"job:{key}")
    return {"ok": True, "jobId": key}


@sio.on("request:job-status")
async def request_job_status(sid, job_id):
    """Answer ``job-status-response`` with the job's state (or ``status: null`` and ``error``)."""
    session = await sio.get_session(sid)
    job = await _own_job(session["userId"], job_id)
    if job is None:
        body = {"jobId": job_id, "status": None, "error": f"jobId: no job {job_id!r} of yours"}
    else:
        body = {
            "jobId": job.public_id,
            "status": job.state,
            "progress": job.progress,
            "result": job.result,
            "failedReason": job.failed_reason or None,
        }
    await sio.emit("job-status-response", body, to=sid)
    return body


@database_sync_to_async
def _owns_flow(user_id: int, flow_id) -> bool:
    return isinstance(flow_id, str) and Job.objects.filter(owner_id=user_id, flow_id=flow_id).exists()


@sio.on("join-flow")
async def join_flow(sid, flow_id):
    """The original's ``join-flow``: join room ``flow:<id>`` (``flow:progress``, ``flow:job:progress``,
    ``flow:finished``, ``flow:deleted``) if the flow is the caller's; else an ``error`` event and the
    same body as the acknowledgement (the original let anyone join any flow's room)."""
    session = await sio.get_session(sid)
    if not await _owns_flow(session["userId"], flow_id):
        message = f"flowId: no flow {flow_id!r} of yours"
        refusal = {"ok": False, "event": "join-flow", "flowId": flow_id, "message": message}
        await sio.emit("error", refusal, to=sid)
        return refusal
    await sio.enter_room(sid, f"flow:{flow_id}")
    return {"ok": True, "flowId": flow_id}


@sio.on("leave-flow")
async def leave_flow(sid, flow_id):
    """The original's ``leave-flow``: leave room ``flow:<id>``."""
    await sio.leave_room(sid, f"flow:{flow_id}")
    return {"ok": True, "flowId": flow_id}


def asgi_app(other_app):
    """``other_app`` (Channels' router) with Socket.IO in front of it at ``/socket.io/``."""
    return socketio.ASGIApp(sio, other_asgi_app=other_app, socketio_path="socket.io")
