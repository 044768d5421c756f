"""A flow's record follows its jobs (:func:`flow_job_event`, a ``jobs.realtime`` subscriber) and its
events go to the owner only: on the native websocket and Socket.IO through the owner's group
(``jobs.realtime.publish_flow_event``) and to webhooks of event type ``flow.completed`` /
``flow.failed`` (``webhooks.fanout.flow_event_fan_out``).

Events (the original's ``flowWebSocketService`` names and keys; docs/flows.md):

- ``flow:created``: the FlowResponse;
- ``flow:job:updated`` ``{flowId, jobId, jobStatus, result?, error?, progress?}``: one of the flow's
  jobs changed state or progress;
- ``flow:updated`` ``{flowId, status, progress, updatedAt}``: the flow's status or progress changed;
- ``flow:completed`` ``{flowId, result, completedAt}``: the root job completed;
- ``flow:deleted`` ``{flowId, timestamp, message}``.

Cost: a job without ``flow_id`` returns at once. A flow's job costs one read of the flow and, on a
state change, one count of the flow's jobs by state (index ``job_flow``) and one conditional UPDATE.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count
from django.utils import timezone

from config.serializers import iso_utc
from jobs.dependencies import IGNORE_FAILURE
from jobs.models import Job, JobState
from jobs.realtime import publish_flow_event as _publish

from .models import FINISHED_FLOW_STATUSES, Flow, FlowStatus

logger = logging.getLogger(__name__)

# Job events that may change a flow's status (progress and delta do not; waiting only after a retry).
_STATE_EVENTS = ("active", "completed", "failed", "cancelled")


def flow_payload(flow: Flow) -> dict:
    """The original's FlowResponse: ``{flowId, flowname, name, queueName, status, progress: {total,
    completed, failed, percentage}, result, error, createdAt, updatedAt, startedAt, completedAt}``
    (instants ISO 8601 UTC)."""
    return {
        "flowId": flow.flow_id,
        "flowname": flow.flowname,
        "name": flow.name,
        "queueName": flow.queue,
        "status": flow.status,
        "progress": flow.progress or {"total": 0, "completed": 0, "failed": 0, "percentage": 0},
        "result": flow.result,
        "error": flow.error,
        "createdAt": iso_utc(flow.created_at),
        "updatedAt": iso_utc(flow.updated_at),
        "startedAt": iso_utc(flow.started_at),
        "completedAt": iso_utc(flow.completed_at),
    }


def publish_flow_event(flow: Flow, event: str, payload: dict) -> None:
    """Send ``{event, **payload}`` to ``flow``'s owner (never raises)."""
    _publish(flow.owner_id, flow.flow_id, {"event": event, **payload})


def publish_flow_deleted(*, owner_id: int, flow_id: str) -> None:
    """``flow:deleted`` to the owner (after the flow's rows are gone)."""
    _publish(
        owner_id,
        flow_id,
        {
            "event": "flow:deleted",
            "flowId": flow_id,
            "timestamp": iso_utc(timezone.now()),
            "message": "Flow has been deleted",
        },
    )


def flow_job_event(*, job, message: dict) -> None:
    """``jobs.realtime`` subscriber: a job event of a flow's job updates the flow and tells its owner.

    Never raises (a subscriber's fault must not fail the job)."""
    flow_id = getattr(job, "flow_id", None)
    if flow_id is None:
        return
    event = message.get("event")
    if event == "delta":
        return
    job_update: dict[str, Any] = {"flowId": flow_id, "jobId": message.get("jobId"), "jobStatus": job.state}
    for key in ("result", "error", "progress"):
        if key in message:
            job_update[key] = message[key]
    coalesced = job.pk if event == "progress" else None
    _publish(job.owner_id, flow_id, {"event": "flow:job:updated", **job_update}, job_pk=coalesced)
    # A job waiting again after a run (a retry) may unblock a failed flow; a fresh job's "waiting"
    # (every leaf at creation) changes nothing, and costs no read.
    if event in _STATE_EVENTS or (event == "waiting" and job.attempts_made > 0):
        try:
            flow_refresh(flow_id=flow_id, only_if_stuck=event == "waiting")
        except Exception:
            logger.warning(
                "could not update flow %s after %s of job %s", flow_id, event, job.pk, exc_info=True
            )


def _derive(root: Job, counts: dict[str, int], blocked_failed: int, blocked_cancelled: int) -> str:
    if root.state == JobState.COMPLETED:
        return FlowStatus.COMPLETED
    if root.state == JobState.FAILED:
        return FlowStatus.FAILED
    if root.state == JobState.CANCELLED:
        return FlowStatus.CANCELLED
    if blocked_failed:
        return FlowStatus.FAILED
    if blocked_cancelled:
        return FlowStatus.CANCELLED
    started = sum(
        counts.get(s, 0) for s in (JobState.ACTIVE, JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)
    )
    return FlowStatus.RUNNING if started or root.attempts_made else FlowStatus.PENDING


def flow_refresh(*, flow_id: str, only_if_stuck: bool = False) -> Flow | None:
    """Recompute a flow's ``status``, ``progress``, ``result`` and ``error`` from its jobs (the
    :class:`~flows.models.Flow` docstring's rule) and publish ``flow:updated`` (and ``flow:completed``,
    webhooks ``flow.completed`` / ``flow.failed``) when the status changed. The write is conditional
    on the root job's state read, so a late recompute from an older snapshot cannot overwrite the
    root's outcome. ``only_if_stuck``: do nothing unless the flow is ``failed``/``cancelled`` (a
    retried child makes it go on). Returns the flow, or ``None`` when it is gone."""
    flow = Flow.objects.filter(flow_id=flow_id).select_related("root").first()
    if flow is None or flow.root is None:
        return None
    if only_if_stuck and flow.status not in (FlowStatus.FAILED, FlowStatus.CANCELLED):
        return flow
    root = flow.root
    jobs = Job.objects.filter(flow_id=flow_id)
    counts = {row["state"]: row["n"] for row in jobs.values("state").annotate(n=Count("pk"))}
    # Failed or cancelled children whose parent still waits and does not ignore them: the flow is stuck
    # until one is retried or deleted. Few rows; the policy is read in Python (a JSON key's absence
    # reads differently on SQLite and PostgreSQL inside NOT).
    ended = jobs.filter(parent__isnull=False, state__in=[JobState.FAILED, JobState.CANCELLED]).exclude(
        parent__state__in=[JobState.FAILED, JobState.CANCELLED]
    )
    blocked_counts: dict[str, int] = {}
    for state, options in ended.values_list("state", "options"):
        if not (isinstance(options, dict) and options.get(IGNORE_FAILURE) is True):
            blocked_counts[state] = blocked_counts.get(state, 0) + 1
    status = _derive(
        root, counts, blocked_counts.get(JobState.FAILED, 0), blocked_counts.get(JobState.CANCELLED, 0)
    )
    total = sum(counts.values())
    completed = counts.get(JobState.COMPLETED, 0)
    progress = {
        "total": total,
        "completed": completed,
        "failed": counts.get(JobState.FAILED, 0),
        "percentage": round(completed * 100 / total) if total else 0,
    }
    now = timezone.now()
    fields: dict[str, Any] = {"status": status, "progress": progress, "updated_at": now}
    if status == FlowStatus.COMPLETED:
        fields["result"], fields["error"] = root.result, None
    elif status == FlowStatus.FAILED:
        reason = root.failed_reason if root.state == JobState.FAILED else _first_failure(flow_id)
        fields["error"] = {"message": reason}
    if status in FINISHED_FLOW_STATUSES and root.state in (
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.CANCELLED,
    ):
        fields["completed_at"] = root.finished_at or now
    else:
        fields["completed_at"] = None
    if status != FlowStatus.PENDING and flow.started_at is None:
        fields["started_at"] = now
    same_root = Flow.objects.filter(pk=flow.pk, root__state=root.state)
    changed = same_root.exclude(status=status).update(**fields)
    if not changed and not same_root.update(**fields):
        return flow  # the root moved on meanwhile: the event of that move recomputes
    for key, value in fields.items():
        setattr(flow, key, value)
    publish_flow_event(
        flow,
        "flow:updated",
        {
            "flowId": flow.flow_id,
            "status": status,
            "progress": progress,
            "updatedAt": iso_utc(now),
        },
    )
    if changed:
        _announce_status(flow)
    return flow


def _first_failure(flow_id: str) -> str:
    job = Job.objects.filter(flow_id=flow_id, state=JobState.FAILED).order_by("finished_at", "pk").first()
    return f"job {job.public_id} failed: {job.failed_reason}" if job is not None else ""


def _announce_status(flow: Flow) -> None:
    """The status just changed: ``flow:completed`` to the owner, and the flow's webhooks."""
    if flow.status == FlowStatus.COMPLETED:
        completed_at = flow.completed_at or datetime.now(UTC)
        publish_flow_event(
            flow,
            "flow:completed",
            {
                "flowId": flow.flow_id,
                "result": flow.result,
                "completedAt": iso_utc(completed_at),
            },
        )
    if flow.status in (FlowStatus.COMPLETED, FlowStatus.FAILED):
        from webhooks.fanout import flow_event_fan_out

        flow_event_fan_out(owner_id=flow.owner_id, event=f"flow.{flow.status}", payload=flow_payload(flow))
