"""Fan-out: one job event becomes deliveries for the owner's matching webhooks.

1. The owner's active webhooks matching the event (``webhooks.active``: from memory, most owners have
   none).
2. ``progress`` and ``delta`` events are coalesced in Redis per (job, event type) and window of
   ``WEBHOOK_COALESCE_WINDOW_S``: the first event of a window opens it and schedules the
   ``coalesced_flush`` task at its end; later events only update the buffer (the latest progress
   value; deltas appended in order). So a handler reporting progress 1000 times a second produces at
   most one progress delivery and one delta delivery per job per window. A terminal event
   (``completed``, ``failed``, ``cancelled``) flushes the job's buffers first, so its deliveries are
   created after the last progress and delta ones.
3. Other events (and flushed buffers) become one ``Delivery`` row per webhook, and a ``delivery_send``
   task on queue ``webhooks`` is published after commit (``webhooks.delivery`` sends it).
"""

from __future__ import annotations

import json
import logging
import uuid

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.redis_client import redis_client
from jobs.realtime import JOB_EVENTS

from .active import active_webhooks, matching_webhooks, subscribed_to
from .models import Delivery, Webhook

logger = logging.getLogger(__name__)

COALESCED_EVENTS = ("progress", "delta")
TERMINAL_EVENTS = ("completed", "failed", "cancelled")
BUFFER_TTL_S = 3600  # a buffer whose flush task was lost still expires


def _redis() -> redis.Redis:
    return redis_client()


def _buffer_keys(job_id: int, event: str) -> tuple[str, str]:
    base = f"jobserver:webhooks:coalesce:{job_id}:{event}"
    return f"{base}:buf", f"{base}:gate"


def event_payload(owner_id: int, message: dict) -> dict:
    """The body of a delivery for a job event message (``jobs.realtime.job_event_message``).

    ``{id, jobId, jobname, userId, eventType, state, timestamp (epoch ms), scheduleId?, queueName,
    progress?, result?, error?, content?}``: ``id`` is the job id, as in the system we port (API.md).
    """
    payload = {
        "id": message["jobId"],
        "jobId": message["jobId"],
        "jobname": message.get("name"),
        "userId": owner_id,
        "eventType": message["event"],
        "state": message.get("state"),
        "timestamp": message.get("timestamp"),
    }
    if message.get("scheduleId") is not None:
        payload["scheduleId"] = message["scheduleId"]
    if message.get("queueName") is not None:  # JobRunner v0.0.2's events name the job's queue
        payload["queueName"] = message["queueName"]
    for key in ("progress", "result", "error", "content"):
        if key in message:
            payload[key] = message[key]
    return payload


def job_event_fan_out(*, job, message: dict) -> None:
    """The job events' subscriber (``jobs.realtime.subscribe``, registered in ``WebhooksConfig.ready``)."""
    webhook_fan_out(owner_id=job.owner_id, message=message, job_pk=job.pk)


def webhook_fan_out(*, owner_id: int, message: dict, job_pk: int | None = None) -> None:
    """Turn one job event into deliveries for the owner's matching webhooks (see the module doc).

    ``job_pk`` is the job's numeric id (``message["jobId"]`` is its public id, which may be a custom
    or ``repeat:`` id); without it ``message["jobId"]`` must be numeric.

    Called by ``jobs.realtime.publish_job_event`` in whatever process published the event. Never
    raises: a webhook problem must not fail a job. If Redis is unreachable, progress and delta
    events are delivered one by one instead of coalesced.
    """
    try:
        event = message.get("event")
        if event not in JOB_EVENTS:
            return
        job_id = job_pk if job_pk is not None else int(message["jobId"])
        # The common case (an owner without webhooks) is answered from this process's cache.
        active = active_webhooks(owner_id)
        if not active:
            return
        if event in TERMINAL_EVENTS:
            for kind in COALESCED_EVENTS:
                try:
                    coalesced_flush(owner_id=owner_id, job_id=job_id, event=kind)
                except redis.RedisError:  # the final event itself must still be delivered
                    logger.warning("could not flush buffered %s of job %s", kind, job_id, exc_info=True)
        hooks = subscribed_to(active, event)
        if not hooks:
            return
        if event in COALESCED_EVENTS and settings.WEBHOOK_COALESCE_WINDOW_S > 0:
            try:
                _buffer(owner_id, job_id, event, message)
                return
            except redis.RedisError:
                logger.warning(
                    "webhook coalescing unavailable; delivering %s uncoalesced", event, exc_info=True
                )
        _create_deliveries(hooks, event=event, payload=event_payload(owner_id, message), job_id=job_id)
    except Exception:
        logger.exception("webhook fan-out of %s failed", message.get("event"))


FLOW_EVENTS = ("flow.completed", "flow.failed")


def flow_event_fan_out(*, owner_id: int, event: str, payload: dict) -> None:
    """A flow event (``flow.completed`` / ``flow.failed``, docs/flows.md) becomes one delivery per
    owner webhook subscribed to exactly that event type (``all`` covers job events only). Payload: the
    flow's FlowResponse plus ``{eventType, userId, timestamp (epoch ms)}``. Never raises."""
    try:
        if event not in FLOW_EVENTS:
            return
        active = active_webhooks(owner_id)
        hooks = [hook for hook in active if hook.event_type == event]
        if not hooks:
            return
        stamp = int(timezone.now().timestamp() * 1000)
        body = {**payload, "eventType": event, "userId": owner_id, "timestamp": stamp}
        _create_deliveries(hooks, event=event, payload=body, job_id=None)
    except Exception:
        logger.exception("webhook fan-out of %s failed", event)


def _buffer(owner_id: int, job_id: int, event: str, message: dict) -> None:
    from .tasks import coalesced_flush as flush_task

    buf, gate = _buffer_keys(job_id, event)
    window_s = settings.WEBHOOK_COALESCE_WINDOW_S
    pipe = _redis().pipeline(transaction=True)
    if event == "progress":
        pipe.set(buf, json.dumps(message), ex=BUFFER_TTL_S)
    else:
        pipe.rpush(buf, json.dumps(message))
        pipe.expire(buf, BUFFER_TTL_S)
    # The gate only expires, it is never deleted, so at most one window opens per window_s however
    # late flush tasks run. No event is stranded: the buffer is written before the gate is tried,
    # and the window's flush runs after the gate expired (its countdown starts after the gate was
    # set), so an event that finds the gate held is read by that flush.
    pipe.set(gate, "1", nx=True, px=max(1, int(window_s * 1000)))
    opened = pipe.execute()[-1]
    if opened:
        flush_task.apply_async(args=[owner_id, job_id, event], countdown=window_s)


def coalesced_flush(*, owner_id: int, job_id: int, event: str) -> int:
    """Turn the buffered ``progress`` or ``delta`` events of one job into deliveries; returns how many.

    Progress: one delivery with the latest value. Delta: one delivery whose ``content`` is all
    buffered deltas concatenated in order (other fields from the last one). Safe to run twice.
    """
    buf, _ = _buffer_keys(job_id, event)
    pipe = _redis().pipeline(transaction=True)
    if event == "progress":
        pipe.get(buf)
    else:
        pipe.lrange(buf, 0, -1)
    pipe.delete(buf)
    raw = pipe.execute()[0]
    if not raw:
        return 0
    if event == "progress":
        message = json.loads(raw)
    else:
        parts = [json.loads(item) for item in raw]
        message = {**parts[-1], "content": "".join(str(p.get("content", "")) for p in parts)}
    hooks = matching_webhooks(owner_id, event)
    if not hooks:
        return 0
    return len(
        _create_deliveries(hooks, event=event, payload=event_payload(owner_id, message), job_id=job_id)
    )


def _new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _create_deliveries(
    hooks: list[Webhook],
    *,
    event: str,
    payload: dict,
    job_id: int | None,
    event_id: str | None = None,
    manual: bool = False,
    redelivery_of: Delivery | None = None,
) -> list[Delivery]:
    from .tasks import delivery_send as send_task

    now = timezone.now()
    rows = [
        Delivery(
            webhook=hook,
            event_id=event_id or _new_event_id(),
            event_type=event,
            job_id=job_id,
            payload=payload,
            max_attempts=max(1, settings.WEBHOOK_MAX_ATTEMPTS),
            next_attempt_at=now,
            enqueued_at=now,
            manual=manual,
            redelivery_of=redelivery_of,
        )
        for hook in hooks
    ]
    with transaction.atomic():  # a savepoint when the event is published inside someone's transaction
        Delivery.objects.bulk_create(rows)
        messages = [(row.pk, row.webhook.owner_id) for row in rows]
        transaction.on_commit(
            lambda: [send_task.apply_async(args=[pk], kwargs={"owner_id": owner}) for pk, owner in messages]
        )
    return rows
