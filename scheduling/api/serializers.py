"""Shapes of schedules on the wire (API.md: Scheduled jobs), plus BullMQ job-scheduler fields
(``key``, ``pattern``, ``every``, ``tz``, ``iterationCount``, ``template``) for clients of the original."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from config.serializers import StrictCharField

from .. import services, timing
from ..models import Schedule, ScheduleKind, ScheduleState


def _iso(value):
    return services._iso(value)


def schedule_to_dict(row: Schedule, *, next_count: int = 5) -> dict:
    """``{schedulerId, name, data, options, schedule, state, runCount, lastRunAt, nextRunAt, description,
    next}`` plus BullMQ aliases; ``next`` holds up to ``next_count`` fire times within ``limit``."""
    upcoming: list = []
    if row.state == ScheduleState.ACTIVE and row.next_fire_at and next_count:
        upcoming = [row.next_fire_at]
        if next_count > 1:
            more = timing.fire_times(row, after=row.next_fire_at, count=next_count - 1)
            upcoming += more
        if row.limit is not None:
            upcoming = upcoming[: max(0, row.limit - row.run_count)]
    return {
        "schedulerId": row.scheduler_id,
        "id": row.scheduler_id,
        "key": row.scheduler_id,
        "name": row.name,
        "data": row.data,
        "options": row.options,
        "schedule": services.spec_of(row),
        "kind": row.kind,
        "state": row.state,
        "runCount": row.run_count,
        "iterationCount": row.run_count,
        "limit": row.limit,
        "overlap": row.overlap,
        "pattern": row.cron_expression or None,
        "every": row.every_ms,
        "tz": row.time_zone if row.kind == ScheduleKind.CRON else None,
        "startDate": _iso(row.start_at),
        "endDate": _iso(row.end_at),
        "lastRunAt": _iso(row.last_run_at),
        "nextRunAt": _iso(row.next_fire_at),
        "description": timing.describe(row),
        "next": [_iso(t) for t in upcoming],
        "template": {"data": row.data, "opts": row.options},
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at or timezone.now()),
    }


class ScheduleWriteSerializer(serializers.Serializer):
    """``{name, data, schedule, options?, schedulerId?}``; ``data`` may be any JSON value."""

    name = StrictCharField(max_length=200)
    data = serializers.JSONField(required=False, allow_null=True, default=None)
    schedule = serializers.JSONField()
    options = serializers.JSONField(required=False, allow_null=True, default=None)
    schedulerId = StrictCharField(required=False, max_length=200)


class PreviewSerializer(serializers.Serializer):
    schedule = serializers.JSONField()
    count = serializers.JSONField(required=False, default=5)
    # `from` is a Python keyword; it is read from the raw body in the view.
