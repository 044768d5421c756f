"""Shapes of jobs on the wire (API.md: Jobs). Timestamps are epoch milliseconds, as the original."""

from __future__ import annotations

from rest_framework import serializers

from config.serializers import StrictCharField

from ..models import Job


def epoch_ms(value) -> int | None:
    return int(value.timestamp() * 1000) if value else None


def iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def job_to_dict(job: Job, *, include_stacktrace: bool = True) -> dict:
    """``{id, jobId, name, state, progress, result, failedReason, attemptsMade, data, options,
    scheduleId, timestamp:{created, started, finished} (epoch ms), createdAt/startedAt/finishedAt
    (ISO 8601 UTC), output, cancelRequested, runAt, stacktrace?, logs?, attemptHistory?}``.

    ``id`` and ``jobId`` are the job's public id (BullMQ's job id: custom ``jobId``, ``repeat:...``
    for a schedule fire's job, else the numeric id; :mod:`jobs.ids`)."""
    public_id = job.public_id
    body = {
        "id": public_id,
        "jobId": public_id,
        "name": job.name,
        "state": job.state,
        "progress": job.progress,
        "result": job.result,
        "failedReason": job.failed_reason or None,
        "attemptsMade": job.attempts_made,
        "data": job.data,
        "options": job.options,
        "scheduleId": job.scheduler_id,
        "fireAt": iso(job.fire_at),
        "output": job.output,
        "cancelRequested": job.cancel_requested,
        "runAt": iso(job.run_at) if job.state == "delayed" else None,
        "timestamp": {
            "created": epoch_ms(job.created_at),
            "started": epoch_ms(job.started_at),
            "finished": epoch_ms(job.finished_at),
        },
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "finishedAt": iso(job.finished_at),
    }
    if include_stacktrace:
        # Owner-only by construction: every job endpoint is scoped to the caller's own jobs.
        body["stacktrace"] = job.stacktrace or None
        body["logs"] = job.logs
        body["attemptHistory"] = job.attempt_history
    return body


class JobSubmitSerializer(serializers.Serializer):
    """``{name, data, options?}``; ``data`` may be any JSON value (0, "", false and null included)."""

    name = StrictCharField(max_length=200)
    data = serializers.JSONField(required=False, allow_null=True, default=None)
    options = serializers.JSONField(required=False, allow_null=True, default=None)
