"""Shapes of schedules on the wire (API.md: Scheduled jobs): request serializers that parse, response
serializers that views answer with and drf-spectacular documents.

A schedule carries BullMQ's ``JobSchedulerJson`` fields with BullMQ's types, because the original's
clients read them (the React scheduler page does ``new Date(job.next)``): ``key``/``id`` (the
schedulerId), ``name``, ``iterationCount``, ``limit``, ``pattern``, ``every``, ``tz``, ``template``,
and ``next`` and ``endDate`` in epoch milliseconds. Our own fields keep their names; the list of
next fire times is ``upcoming`` (ISO 8601 UTC), the next one also ``nextRunAt``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.serializers import AnyJSON, EpochMsField, StrictCharField, UtcDateTimeField, envelope
from jobs.api.serializers import JobDetailSerializer, JobOptionsField, StoredOptionsField
from jobs.ids import epoch_ms

from .. import services, timing
from ..models import Overlap, Schedule, ScheduleKind, ScheduleState

_DATETIME = {"type": "string", "format": "date-time"}
# What the API takes as an instant (scheduling.definition.parse_instant): ISO 8601 with an offset or Z,
# or epoch milliseconds (BullMQ's form).
INSTANT = {
    "oneOf": [_DATETIME, {"type": "integer", "description": "Epoch milliseconds."}],
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
# What ``definition.timing_parse`` accepts (it is the rule; this is its description).
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
                    "description": "5 fields (Vixie semantics), or 6 with leading seconds; @daily etc.",
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


@extend_schema_field(SCHEDULE_SPEC_SCHEMA)
class ScheduleSpecField(serializers.JSONField):
    """The ``schedule`` object: one of cron/pattern, repeat/every, at (``definition.timing_parse``)."""


@extend_schema_field({**INSTANT, "description": "An instant; definition.parse_instant checks it."})
class InstantField(serializers.JSONField):
    """An instant as the client sent it, parsed (with its error message) by ``definition.parse_instant``."""


# --- requests -------------------------------------------------------------------------------------------


class ScheduleWriteSerializer(serializers.Serializer):
    """``{name, data, schedule, options?, schedulerId?, queue?}``; ``data`` may be any JSON value."""

    name = StrictCharField(max_length=200, help_text="A registered handler (GET /jobs/handlers).")
    # Named like Serializer.data: DRF's metaclass moves declared fields into _declared_fields.
    data: Any = AnyJSON(required=False, allow_null=True, default=None)
    schedule = ScheduleSpecField()
    options = JobOptionsField(required=False, allow_null=True, default=None)
    schedulerId = StrictCharField(  # noqa: N815
        required=False, max_length=200, help_text="Your id; generated if absent."
    )
    queue = StrictCharField(
        required=False, allow_null=True, default=None, max_length=64,
        help_text="Named queue of the jobs it creates (GET /queues); default JOB_DEFAULT_QUEUE.",
    )
    flow = serializers.ListField(
        child=serializers.DictField(), required=False, allow_null=True, default=None,
        help_text="Child jobs {name, queueName, data, opts, children} of the flow each fire creates, this "
        "schedule's job being the root (docs/flows.md).",
    )

    class Meta:
        ref_name = "ScheduleWrite"


class SchedulePatchSerializer(serializers.Serializer):
    """Any subset of ``{name, data, schedule, options, queue}`` (documentation of PATCH; the service
    parses)."""

    name = StrictCharField(required=False, max_length=200)
    # Named like Serializer.data: DRF's metaclass moves declared fields into _declared_fields.
    data: Any = AnyJSON(required=False, allow_null=True)
    schedule = serializers.DictField(required=False, help_text="Keys merge over the stored schedule object.")
    options = JobOptionsField(required=False, allow_null=True)
    queue = StrictCharField(required=False, max_length=64, help_text="A declared named queue.")
    flow = serializers.ListField(
        child=serializers.DictField(), required=False, allow_null=True, help_text="null: no flow any more."
    )

    class Meta:
        ref_name = "SchedulePatch"


class PreviewRequestSerializer(serializers.Serializer):
    """``{schedule, count?, from?}``."""

    schedule = ScheduleSpecField()
    count = AnyJSON(required=False, default=5, help_text="1..100, default 5.")
    # `from` is a Python keyword: declared under another name and renamed below.
    from_ = InstantField(
        required=False, allow_null=True, help_text="Default (or null): now; times are strictly after it."
    )

    class Meta:
        ref_name = "PreviewRequest"

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


# --- responses ------------------------------------------------------------------------------------------


class ScheduleTemplateSerializer(serializers.Serializer):
    """BullMQ's job template of a scheduler: ``{data, opts}``."""

    # Named like Serializer.data: DRF's metaclass moves declared fields into _declared_fields.
    data: Any = AnyJSON(allow_null=True)
    opts = StoredOptionsField(source="options")

    class Meta:
        ref_name = "ScheduleTemplate"


class ScheduleSerializer(serializers.Serializer):
    """One schedule: our definition and state plus BullMQ's ``JobSchedulerJson`` fields (module doc).

    The serializer's context may carry ``upcoming_count`` (default 5): how many next fire times
    ``upcoming`` lists (within ``limit``).
    """

    schedulerId = serializers.CharField(source="scheduler_id")  # noqa: N815
    id = serializers.CharField(source="scheduler_id", help_text="Same as schedulerId (BullMQ's id).")
    key = serializers.CharField(source="scheduler_id", help_text="Same as schedulerId (BullMQ's key).")
    name = serializers.CharField(help_text="Handler name of the jobs it creates.")
    queueName = serializers.CharField(source="queue", help_text="Named queue of the jobs it creates.")  # noqa: N815
    # Named like Serializer.data: DRF's metaclass moves declared fields into _declared_fields.
    data: Any = AnyJSON(allow_null=True)
    options = StoredOptionsField()
    flow = serializers.ListField(
        child=serializers.JSONField(), allow_null=True,
        help_text="Child jobs of the flow each fire creates (docs/flows.md); null for a plain schedule.",
    )
    schedule = serializers.SerializerMethodField(help_text="The definition, as submitted (ISO instants).")
    kind = serializers.ChoiceField(choices=ScheduleKind.values)
    state = serializers.ChoiceField(choices=ScheduleState.values)
    runCount = serializers.IntegerField(source="run_count", min_value=0)  # noqa: N815
    iterationCount = serializers.SerializerMethodField(  # noqa: N815
        help_text="BullMQ's: iterations made, the pending one included (runCount + 1 while a next fire "
        "is pending, else runCount)."
    )
    limit = serializers.IntegerField(allow_null=True)
    overlap = serializers.ChoiceField(choices=Overlap.values)
    pattern = serializers.SerializerMethodField(help_text="The cron expression (BullMQ's name).")
    every = serializers.IntegerField(source="every_ms", allow_null=True, help_text="Milliseconds (BullMQ).")
    offset = serializers.SerializerMethodField(
        help_text="BullMQ's: ms past a multiple of every where interval fires fall; 0 for a cron."
    )
    tz = serializers.SerializerMethodField(help_text="IANA time zone of a cron schedule.")
    startDate = UtcDateTimeField(source="start_at", allow_null=True)  # noqa: N815
    endDate = EpochMsField(  # noqa: N815
        source="end_at", allow_null=True, help_text="Epoch ms (BullMQ's type); ISO in schedule.endDate."
    )
    lastRunAt = UtcDateTimeField(source="last_run_at", allow_null=True)  # noqa: N815
    nextRunAt = UtcDateTimeField(source="next_fire_at", allow_null=True)  # noqa: N815
    next = EpochMsField(
        source="next_fire_at", allow_null=True, help_text="The next fire time in epoch ms (BullMQ's type)."
    )
    upcoming = serializers.SerializerMethodField(help_text="The next fire times, ISO 8601 UTC.")
    description = serializers.SerializerMethodField(help_text='Human text such as "At 00:00, every day".')
    template = ScheduleTemplateSerializer(source="*")
    createdAt = UtcDateTimeField(source="created_at")  # noqa: N815
    updatedAt = UtcDateTimeField(source="updated_at")  # noqa: N815

    class Meta:
        ref_name = "Schedule"

    @extend_schema_field(SCHEDULE_SPEC_SCHEMA)
    def get_schedule(self, row: Schedule) -> dict:
        return services.spec_of(row)

    def get_iterationCount(self, row: Schedule) -> int:  # noqa: N802
        return iteration_count(row)

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_offset(self, row: Schedule) -> int | None:
        return repeat_offset(row)

    @extend_schema_field({"type": "string", "nullable": True})
    def get_pattern(self, row: Schedule) -> str | None:
        return row.cron_expression or None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_tz(self, row: Schedule) -> str | None:
        return row.time_zone if row.kind == ScheduleKind.CRON else None

    @extend_schema_field({"type": "array", "items": {"type": "string", "format": "date-time"}})
    def get_upcoming(self, row: Schedule) -> list[str]:
        return [services._iso(t) for t in upcoming_fire_times(row, self.context.get("upcoming_count", 5))]

    def get_description(self, row: Schedule) -> str:
        return timing.describe(row)


# ``{scheduledJobs, pagination}`` (the original's list key).
ScheduleListSerializer = envelope(
    "ScheduleList", "scheduledJobs", ScheduleSerializer(many=True), paginated=True
)


class PreviewSerializer(serializers.Serializer):
    """``{description, upcoming}`` of POST /jobs/schedule/preview."""

    description = serializers.CharField()
    upcoming = serializers.ListField(child=serializers.CharField(), help_text="ISO 8601 UTC fire times.")

    class Meta:
        ref_name = "Preview"


class TriggerSerializer(serializers.Serializer):
    """``{message, job}`` of POST /jobs/schedule/{schedulerId}/trigger."""

    message = serializers.CharField()
    job = JobDetailSerializer()

    class Meta:
        ref_name = "Trigger"


def iteration_count(row: Schedule) -> int:
    """BullMQ's ``iterationCount``: the iterations the scheduler has produced, the pending one included.

    BullMQ creates an iteration's job when the previous one starts (the first at upsert), so its count
    is 1 right after creation and one ahead of the jobs run while a next one is pending. Ours: fires so
    far (``runCount``, skipped fires included) plus 1 while a next fire is pending (active); equal to
    ``runCount`` once paused or ended.
    """
    pending = row.state == ScheduleState.ACTIVE and row.next_fire_at is not None
    return row.run_count + int(pending)


def repeat_offset(row: Schedule) -> int | None:
    """BullMQ's ``offset`` (ms): where interval fires fall within ``every``, i.e. their epoch ms modulo
    ``every`` (the given ``offset``, else that of the grid's start, as BullMQ derives it); 0 for a cron,
    as BullMQ reports for patterns; ``None`` for a one-time schedule."""
    if row.kind == ScheduleKind.EVERY and row.every_ms is not None:
        return row.offset_ms or (epoch_ms(row.anchor_at) % row.every_ms if row.anchor_at else 0)
    return 0 if row.kind == ScheduleKind.CRON else None


def upcoming_fire_times(row: Schedule, count: int) -> list:
    """Up to ``count`` next fire times (UTC) of an active schedule, within its ``limit``."""
    if row.state != ScheduleState.ACTIVE or not row.next_fire_at or not count:
        return []
    upcoming = [row.next_fire_at]
    if count > 1:
        upcoming += timing.fire_times(row, after=row.next_fire_at, count=count - 1)
    if row.limit is not None:
        upcoming = upcoming[: max(0, row.limit - row.run_count)]
    return upcoming


def schedule_to_dict(row: Schedule, *, next_count: int = 5) -> dict:
    """The schedule as the API answers it (for the pages); ``upcoming`` holds ``next_count`` times."""
    return dict(ScheduleSerializer(row, context={"upcoming_count": next_count}).data)
