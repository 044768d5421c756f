"""Documentation-only serializers: the wire shapes of API.md, named as OpenAPI components.

They never validate a request (the apps' serializers and services do); they describe what the
views answer, so schemathesis can hold the responses to them. Keep them in step with
``jobs.api.serializers.job_to_dict`` and ``scheduling.api.serializers.schedule_to_dict``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

JOB_STATES = ["waiting", "delayed", "active", "completed", "failed", "cancelled"]
SCHEDULE_STATES = ["active", "paused", "ended"]

_DATETIME = {"type": "string", "format": "date-time"}
# What the API takes as an instant (scheduling.services.parse_instant): ISO 8601 with an offset or Z,
# or epoch milliseconds (BullMQ's form).
INSTANT = {
    "oneOf": [_DATETIME, {"type": "integer", "description": "Epoch milliseconds."}],
}
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
_SPEC_COMMON = {
    "startDate": {
        **INSTANT,
        "nullable": True,
        "description": "No run before this instant (ISO 8601 or epoch ms; null: none).",
    },
    "endDate": {
        **INSTANT,
        "nullable": True,
        "description": "No run after this instant (ISO 8601 or ms; null: none); after startDate, in future.",
    },
    "limit": {
        "type": "integer",
        "minimum": 1,
        "nullable": True,
        "description": "At most this many runs in total (null: no limit).",
    },
    "overlap": {
        "enum": ["allow", "skip", None],
        "nullable": True,
        "description": "skip: no new run while the previous one is waiting/active (null: allow).",
    },
}
_EVERY = {"type": "integer", "minimum": 1000, "description": "Milliseconds between runs."}
_OFFSET = {
    "type": "integer",
    "minimum": 0,
    "nullable": True,
    "description": "BullMQ's offset: fires fall on epoch + offset + k*every (ms, below every; 0 = none).",
}
_IMMEDIATELY = {
    "type": "boolean",
    "nullable": True,
    "description": "BullMQ's immediately: one run at once on this write, then the cron (no effect on every).",
}
_CRON_COMMON = {
    "tz": {
        "type": "string",
        "nullable": True,
        "description": "IANA time zone, default (or null) UTC.",
        "example": "America/New_York",
    },
    "immediately": _IMMEDIATELY,
    **_SPEC_COMMON,
}
SCHEDULE_SPEC_SCHEMA = {
    "description": "Exactly one of a cron expression (cron, or BullMQ's pattern), an interval (repeat, or "
    "BullMQ's flat every) or a one-time instant.",
    "oneOf": [
        {
            "type": "object",
            "title": "cron",
            "required": ["cron"],
            "properties": {
                "cron": {
                    "type": "string",
                    "description": "5-field cron (Vixie semantics).",
                    "example": "0 0 * * *",
                },
                **_CRON_COMMON,
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "pattern",
            "required": ["pattern"],
            "properties": {
                "pattern": {"type": "string", "description": "BullMQ's name for cron."},
                **_CRON_COMMON,
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "repeat",
            "required": ["repeat"],
            "properties": {
                "repeat": {
                    "type": "object",
                    "required": ["every"],
                    "properties": {
                        "every": _EVERY,
                        "limit": {"type": "integer", "minimum": 1, "nullable": True},
                        "offset": _OFFSET,
                    },
                    "additionalProperties": False,
                },
                "immediately": _IMMEDIATELY,
                **_SPEC_COMMON,
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "every",
            "required": ["every"],
            "properties": {"every": _EVERY, "offset": _OFFSET, "immediately": _IMMEDIATELY, **_SPEC_COMMON},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "at",
            "required": ["at"],
            "properties": {
                "at": {**INSTANT, "description": "The one run's instant (ISO 8601 or epoch ms)."},
                **_SPEC_COMMON,
            },
            "additionalProperties": False,
        },
    ],
}


@extend_schema_field({"description": 'Any JSON value (0, "", false and null included).'})
class AnyJSON(serializers.JSONField):
    pass


@extend_schema_field(INSTANT)
class InstantField(serializers.JSONField):
    pass


@extend_schema_field({**JOB_OPTIONS_SCHEMA, "nullable": True})
class JobOptionsField(serializers.JSONField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": True, "description": "The job's options."})
class StoredOptionsField(serializers.JSONField):
    pass


@extend_schema_field(SCHEDULE_SPEC_SCHEMA)
class ScheduleSpecField(serializers.JSONField):
    pass


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What went wrong, naming the field and the rule.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field (JSON path such as schedule.cron); empty when no field is to blame.",
    )

    class Meta:
        ref_name = "Error"


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()

    class Meta:
        ref_name = "Message"


class PaginationSerializer(serializers.Serializer):
    total = serializers.IntegerField(min_value=0)
    page = serializers.IntegerField(min_value=1)
    limit = serializers.IntegerField(min_value=1, max_value=100)
    pages = serializers.IntegerField(min_value=0)

    class Meta:
        ref_name = "Pagination"


class JobTimestampsSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Epoch milliseconds.")
    started = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    finished = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")

    class Meta:
        ref_name = "JobTimestamps"


class JobAttemptSerializer(serializers.Serializer):
    attempt = serializers.IntegerField(min_value=1)
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField()
    durationMs = serializers.IntegerField(allow_null=True, help_text="Milliseconds.")
    outcome = serializers.ChoiceField(choices=["completed", "failed", "cancelled"])
    reason = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "JobAttempt"


class JobSerializer(serializers.Serializer):
    id = serializers.CharField(
        help_text="BullMQ's job id: your options.jobId, repeat:<schedulerId>:<fire time ms> for a "
        "schedule fire's job, else the job's number. GET /jobs/{jobId} takes it or the number."
    )
    jobId = serializers.CharField(help_text="Same as id (the original's name).")
    name = serializers.CharField(help_text="Handler name.")
    state = serializers.ChoiceField(choices=JOB_STATES)
    progress = AnyJSON(help_text="A number 0-100 or a JSON object.")
    result = AnyJSON(allow_null=True)
    failedReason = serializers.CharField(allow_null=True)
    attemptsMade = serializers.IntegerField(min_value=0)
    data = AnyJSON(allow_null=True)
    options = StoredOptionsField()
    scheduleId = serializers.CharField(
        allow_null=True, help_text="schedulerId of the schedule that created it."
    )
    fireAt = serializers.DateTimeField(
        allow_null=True, help_text="Nominal fire time (UTC) of a scheduled run."
    )
    output = serializers.CharField(allow_blank=True, help_text="Streamed delta text, in order.")
    timestamp = JobTimestampsSerializer()
    createdAt = serializers.DateTimeField()
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)
    stacktrace = serializers.CharField(
        allow_null=True, required=False, help_text="Only on GET /jobs/{jobId}."
    )
    attemptHistory = JobAttemptSerializer(
        many=True,
        required=False,
        help_text="Every finished attempt, oldest first. Only on GET /jobs/{jobId}.",
    )

    class Meta:
        ref_name = "Job"


class JobListSerializer(serializers.Serializer):
    jobs = JobSerializer(many=True)
    pagination = PaginationSerializer()

    class Meta:
        ref_name = "JobList"


class JobSubmitSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="A registered handler (GET /jobs/handlers).")
    data = AnyJSON(required=False, allow_null=True)
    options = JobOptionsField(required=False, allow_null=True)

    class Meta:
        ref_name = "JobSubmit"


class HandlerSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    schema = AnyJSON(allow_null=True, help_text="JSON Schema of the data it accepts, if declared.")

    class Meta:
        ref_name = "Handler"


class HandlerListSerializer(serializers.Serializer):
    handlers = HandlerSerializer(many=True)

    class Meta:
        ref_name = "HandlerList"


class ScheduleSerializer(serializers.Serializer):
    schedulerId = serializers.CharField()
    id = serializers.CharField(help_text="Same as schedulerId.")
    key = serializers.CharField(help_text="Same as schedulerId (BullMQ's name).")
    name = serializers.CharField()
    data = AnyJSON(allow_null=True)
    options = StoredOptionsField()
    schedule = ScheduleSpecField()
    kind = serializers.ChoiceField(choices=["cron", "every", "at"])
    state = serializers.ChoiceField(choices=SCHEDULE_STATES)
    runCount = serializers.IntegerField(min_value=0)
    iterationCount = serializers.IntegerField(
        min_value=0,
        help_text="BullMQ's: iterations made, the pending one included (runCount + 1 while a next fire "
        "is pending, else runCount).",
    )
    limit = serializers.IntegerField(allow_null=True)
    overlap = serializers.ChoiceField(choices=["allow", "skip"])
    pattern = serializers.CharField(allow_null=True, help_text="The cron expression (BullMQ's name).")
    every = serializers.IntegerField(allow_null=True, help_text="Milliseconds (BullMQ's name).")
    offset = serializers.IntegerField(
        allow_null=True,
        help_text="BullMQ's: ms past a multiple of every where interval fires fall; 0 for a cron.",
    )
    tz = serializers.CharField(allow_null=True)
    startDate = serializers.DateTimeField(allow_null=True)
    endDate = serializers.DateTimeField(allow_null=True)
    lastRunAt = serializers.DateTimeField(allow_null=True)
    nextRunAt = serializers.DateTimeField(allow_null=True)
    description = serializers.CharField(help_text='Human text such as "At 00:00, every day".')
    next = serializers.ListField(child=serializers.DateTimeField(), help_text="Next fire times (UTC).")
    template = serializers.DictField(help_text="{data, opts} (BullMQ's job template).")
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()

    class Meta:
        ref_name = "Schedule"


class ScheduleListSerializer(serializers.Serializer):
    scheduledJobs = ScheduleSerializer(many=True)
    pagination = PaginationSerializer()

    class Meta:
        ref_name = "ScheduleList"


class ScheduleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="A registered handler (GET /jobs/handlers).")
    data = AnyJSON(required=False, allow_null=True)
    schedule = ScheduleSpecField()
    options = JobOptionsField(required=False, allow_null=True)
    schedulerId = serializers.CharField(
        required=False, max_length=200, help_text="Your id; generated if absent."
    )

    class Meta:
        ref_name = "ScheduleWrite"


class SchedulePatchSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    data = AnyJSON(required=False, allow_null=True)
    schedule = serializers.DictField(required=False, help_text="Keys merge over the stored schedule object.")
    options = JobOptionsField(required=False, allow_null=True)

    class Meta:
        ref_name = "SchedulePatch"


class PreviewRequestSerializer(serializers.Serializer):
    schedule = ScheduleSpecField()
    count = serializers.IntegerField(required=False, min_value=1, max_value=100, help_text="Default 5.")
    # `from` is a Python keyword: declared under another name and renamed below.
    from_ = InstantField(required=False, allow_null=True, help_text="Default (or null): now. ISO 8601 or ms.")

    class Meta:
        ref_name = "PreviewRequest"

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class PreviewSerializer(serializers.Serializer):
    description = serializers.CharField()
    next = serializers.ListField(child=serializers.DateTimeField(), help_text="ISO 8601 UTC fire times.")

    class Meta:
        ref_name = "Preview"


class TriggerSerializer(serializers.Serializer):
    message = serializers.CharField()
    job = JobSerializer()

    class Meta:
        ref_name = "Trigger"


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "User"


class RegisterRequestSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(max_length=128)
    email = serializers.EmailField(required=False, allow_blank=True)

    class Meta:
        ref_name = "RegisterRequest"


class RegisterSerializer(serializers.Serializer):
    message = serializers.CharField()
    user = UserSerializer()
    accessToken = serializers.CharField()
    refreshToken = serializers.CharField()

    class Meta:
        ref_name = "Registered"


class LoginRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128)

    class Meta:
        ref_name = "LoginRequest"


class TokensSerializer(serializers.Serializer):
    message = serializers.CharField(required=False)
    accessToken = serializers.CharField()
    refreshToken = serializers.CharField(required=False, help_text="A rotated refresh token.")

    class Meta:
        ref_name = "Tokens"


class RefreshRequestSerializer(serializers.Serializer):
    refreshToken = serializers.CharField()

    class Meta:
        ref_name = "RefreshRequest"


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()

    class Meta:
        ref_name = "PasswordResetRequest"


class PasswordResetSerializer(serializers.Serializer):
    token = serializers.CharField()
    newPassword = serializers.CharField()

    class Meta:
        ref_name = "PasswordReset"


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    expiresAt = serializers.DateTimeField(required=False, allow_null=True)

    class Meta:
        ref_name = "ApiKeyCreate"


class WebhookWriteSerializer(serializers.Serializer):
    url = serializers.URLField()
    eventType = serializers.ChoiceField(choices=["progress", "completed", "failed", "delta", "all"])
    description = serializers.CharField(required=False, allow_blank=True)

    class Meta:
        ref_name = "WebhookWrite"


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])

    class Meta:
        ref_name = "Health"


@extend_schema_field(
    {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"enum": ["ok", "fail"]},
            "error": {"type": "string", "description": "Why the check failed."},
        },
        "additionalProperties": True,
        "description": "One check; details vary (vendor, workers that answered, beat leader and lock ttlMs).",
    }
)
class CheckField(serializers.JSONField):
    pass


class ReadinessChecksSerializer(serializers.Serializer):
    database = CheckField()
    redis = CheckField()
    workers = CheckField()
    beat = CheckField()

    class Meta:
        ref_name = "ReadinessChecks"


class ReadinessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "fail"])
    checks = ReadinessChecksSerializer()

    class Meta:
        ref_name = "Readiness"
