"""Shapes of jobs on the wire (API.md: Jobs): the request serializers that parse, and the response
serializers that views answer with and drf-spectacular documents (one declaration per shape).

Timestamps under ``timestamp`` are epoch milliseconds, as the original; the ``...At`` fields are ISO
8601 UTC. Ids are strings (BullMQ's job ids are).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.serializers import (
    AnyJSON,
    BlankAsNullCharField,
    EpochMsField,
    StrictCharField,
    UtcDateTimeField,
    envelope,
)

from ..models import Job, JobState

_MS = {"type": "integer", "minimum": 0}
_KEEP = {
    "description": "true/false, a count of finished jobs to keep, or {count, age (seconds)}.",
    "oneOf": [
        {"type": "boolean"},
        {"type": "integer", "minimum": 0},
        {
            "type": "object",
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "age": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
    ],
}
# What ``jobs.options.validate_options`` accepts (it is the rule; this is its description).
JOB_OPTIONS_SCHEMA = {
    "type": "object",
    "description": "BullMQ job options, merged over the server defaults. Unknown keys are a 400 naming them.",
    "properties": {
        "attempts": {"type": "integer", "minimum": 1, "maximum": 1000},
        "backoff": {
            "description": "Milliseconds between attempts, or {type, delay (ms)}.",
            "oneOf": [
                _MS,
                {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"enum": ["fixed", "exponential"]}, "delay": _MS},
                    "additionalProperties": False,
                },
            ],
        },
        "delay": {**_MS, "description": "Milliseconds before the job may start."},
        "priority": {"type": "integer", "minimum": 0, "description": "Lower runs first (BullMQ)."},
        "jobId": {
            "type": "string",
            "description": "Your id for the job (BullMQ's custom job id): the same key returns the existing "
            "job, and GET/DELETE /jobs/{jobId}, cancel and retry address the job by it. Not of the form "
            "repeat:<schedulerId>:<ms>; one in integer form stays an idempotency key only.",
        },
        "timeout": {**_MS, "description": "Milliseconds an attempt may run."},
        "removeOnComplete": _KEEP,
        "removeOnFail": _KEEP,
    },
    "additionalProperties": False,
}


@extend_schema_field({**JOB_OPTIONS_SCHEMA, "nullable": True})
class JobOptionsField(serializers.JSONField):
    """``options`` of a submission (validated by ``jobs.options.validate_options``)."""


@extend_schema_field({"type": "object", "additionalProperties": True, "description": "The job's options."})
class StoredOptionsField(serializers.JSONField):
    """``options`` of a stored job: the submitted ones merged over the defaults."""


# --- requests -------------------------------------------------------------------------------------------


class JobSubmitSerializer(serializers.Serializer):
    """``{name, data, options?}``; ``data`` may be any JSON value (0, "", false and null included)."""

    name = StrictCharField(max_length=200, help_text="A registered handler (GET /jobs/handlers).")
    # Named like Serializer.data: DRF's metaclass moves declared fields into _declared_fields.
    data: Any = AnyJSON(required=False, allow_null=True, default=None)
    options = JobOptionsField(required=False, allow_null=True, default=None)
    queue = StrictCharField(
        max_length=64, required=False, allow_null=True, default=None,
        help_text="A declared named queue (GET /queues); default JOB_DEFAULT_QUEUE (jobQueue).",
    )

    class Meta:
        ref_name = "JobSubmit"


# --- responses ------------------------------------------------------------------------------------------


class JobTimestampsSerializer(serializers.Serializer):
    """``{created, started, finished}`` in epoch milliseconds (the original's ``timestamp``)."""

    created = EpochMsField(source="created_at")
    started = EpochMsField(source="started_at", allow_null=True)
    finished = EpochMsField(source="finished_at", allow_null=True)

    class Meta:
        ref_name = "JobTimestamps"


class JobSerializer(serializers.Serializer):
    """One job as listed: the original's ``{id, name, state, progress, result, failedReason,
    timestamp}`` plus ours (``jobId``, ``attemptsMade``, ``data``, ``options``, ``scheduleId``,
    ``fireAt``, ``output``, ``cancelRequested``, ``runAt`` (delayed jobs only), ISO ``...At``)."""

    id = serializers.CharField(
        source="public_id",
        help_text="BullMQ's job id: your options.jobId, repeat:<schedulerId>:<fire time ms> for a "
        "schedule fire's job, else the job's number. GET /jobs/{jobId} takes it or the number.",
    )
    jobId = serializers.CharField(  # noqa: N815
        source="public_id", help_text="Same as id (the original's submit answer)."
    )
    name = serializers.CharField(help_text="Handler name.")
    queueName = serializers.CharField(source="queue", help_text="The job's named queue (BullMQ's queueName).")  # noqa: N815
    state = serializers.ChoiceField(choices=JobState.choices)
    progress = AnyJSON(help_text="A number 0-100 or a JSON object.")
    result = AnyJSON(allow_null=True)
    failedReason = BlankAsNullCharField(source="failed_reason")  # noqa: N815
    attemptsMade = serializers.IntegerField(source="attempts_made", min_value=0)  # noqa: N815
    # Named like Serializer.data: DRF's metaclass moves declared fields into _declared_fields.
    data: Any = AnyJSON(allow_null=True)
    options = StoredOptionsField()
    scheduleId = serializers.CharField(  # noqa: N815
        source="scheduler_id", allow_null=True, help_text="schedulerId of the schedule that created it."
    )
    fireAt = UtcDateTimeField(  # noqa: N815
        source="fire_at", allow_null=True, help_text="Nominal fire time (UTC) of a scheduled run."
    )
    flowId = serializers.CharField(  # noqa: N815
        source="flow_id", allow_null=True, help_text="flowId of the flow the job belongs to (docs/flows.md)."
    )
    parentId = serializers.IntegerField(  # noqa: N815
        source="parent_id", allow_null=True,
        help_text="Number of the job's parent in its flow; null for a flow's root or a job outside a flow.",
    )
    output = serializers.CharField(allow_blank=True, help_text="Streamed delta text, in order.")
    cancelRequested = serializers.BooleanField(source="cancel_requested")  # noqa: N815
    runAt = serializers.SerializerMethodField(help_text="When a delayed job is due (UTC); null otherwise.")  # noqa: N815
    timestamp = JobTimestampsSerializer(source="*")
    createdAt = UtcDateTimeField(source="created_at")  # noqa: N815
    startedAt = UtcDateTimeField(source="started_at", allow_null=True)  # noqa: N815
    finishedAt = UtcDateTimeField(source="finished_at", allow_null=True)  # noqa: N815

    class Meta:
        ref_name = "Job"

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_runAt(self, job: Job) -> str | None:  # noqa: N802
        return UtcDateTimeField().to_representation(job.run_at) if job.state == JobState.DELAYED else None


class JobAttemptSerializer(serializers.Serializer):
    """One finished attempt (``jobs.attempts``): instants as stored, ISO 8601 UTC."""

    attempt = serializers.IntegerField(min_value=1)
    startedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    finishedAt = serializers.DateTimeField()  # noqa: N815
    durationMs = serializers.IntegerField(allow_null=True, help_text="Milliseconds.")  # noqa: N815
    outcome = serializers.ChoiceField(choices=["completed", "failed", "cancelled"])
    reason = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "JobAttempt"


class JobDetailSerializer(JobSerializer):
    """One job read alone (GET /jobs/{jobId}, actions): the list's fields plus ``stacktrace``, ``logs``
    and ``attemptHistory`` (owner-only by construction: every job endpoint is scoped to the caller's jobs)."""

    stacktrace = BlankAsNullCharField()
    logs = serializers.ListField(child=serializers.CharField(allow_blank=True))
    attemptHistory = JobAttemptSerializer(  # noqa: N815
        source="attempt_history", many=True, help_text="Every finished attempt, oldest first."
    )

    class Meta:
        ref_name = "JobDetail"


# GET /jobs and GET /jobs/schedule/{schedulerId}/jobs.
JobListSerializer = envelope("JobList", "jobs", JobSerializer(many=True), paginated=True)


class JobDeletedSerializer(serializers.Serializer):
    """``{message, id}`` of DELETE /jobs/{jobId} (the original's answer)."""

    message = serializers.CharField()
    id = serializers.CharField()

    class Meta:
        ref_name = "JobDeleted"


class HandlerSerializer(serializers.Serializer):
    """A registered handler: ``{name, description, schema}``."""

    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    schema = AnyJSON(allow_null=True, help_text="JSON Schema of the data it accepts, if declared.")

    class Meta:
        ref_name = "Handler"


HandlerListSerializer = envelope("HandlerList", "handlers", HandlerSerializer(many=True))


def job_to_dict(job: Job, *, include_stacktrace: bool = True) -> dict:
    """The job as the API answers it (:class:`JobDetailSerializer`, or :class:`JobSerializer` without
    ``stacktrace``/``logs``); for the websocket's snapshot and the pages."""
    return dict((JobDetailSerializer if include_stacktrace else JobSerializer)(job).data)
