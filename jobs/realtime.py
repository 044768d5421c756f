"""Job and schedule events: the one function that publishes them, and the group names.

Every event goes to the owner's group (``user.<id>``) and the job's group (``job.<id>``) on the
Redis channel layer, which is the only path from workers to browsers. Webhook fan-out hangs off the
same function so no event is published twice by two code paths.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

JOB_EVENTS = ("waiting", "active", "progress", "delta", "completed", "failed", "cancelled")
SCHEDULE_EVENTS = ("fired", "paused", "resumed", "ended")


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def job_group(job_id: int) -> str:
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
    """Publish one job event to the owner's and the job's groups. Never raises: a dead layer must not fail a job."""
    message = job_event_message(job, event, **extra)
    _send([user_group(job.owner_id), job_group(job.pk)], message)
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
    _send([user_group(schedule.owner_id)], message)
    return message


def _send(groups: list[str], message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, {"type": "job.event", "message": message})
    except Exception:  # the job's outcome is already stored; a lost live update is recoverable by snapshot
        logger.warning("could not publish %s to %s", message.get("event"), groups, exc_info=True)
