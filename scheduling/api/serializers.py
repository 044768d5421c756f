"""Shapes of schedules on the wire (API.md: Scheduled jobs), plus BullMQ job-scheduler fields
(``key``, ``pattern``, ``every``, ``tz``, ``iterationCount``, ``template``) for clients of the original."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from config.serializers import StrictCharField
from jobs.ids import epoch_ms

from .. import services, timing
from ..models import Schedule, ScheduleKind, ScheduleState


def _iso(value):
    return services._iso(value)


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
    if row.kind == ScheduleKind.EVERY:
        return row.offset_ms or (epoch_ms(row.anchor_at) % row.every_ms if row.anchor_at else 0)
    return 0 if row.kind == ScheduleKind.CRON else None


def schedule_to_dict(row: Schedule, *, next_count: int = 5) -> dict:
    """``{schedulerId, name, data, options, schedule, state, runCount, lastRunAt, nextRunAt, description,
    next}`` plus BullMQ's ``JobSchedulerJson`` fields (``key`` and ``id`` = schedulerId, ``name``,
    ``iterationCount``, ``limit``, ``pattern``, ``every``, ``offset``, ``tz``, ``template``); ``next``
    holds up to ``next_count`` fire times within ``limit``."""
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
        "iterationCount": iteration_count(row),
        "limit": row.limit,
        "overlap": row.overlap,
        "pattern": row.cron_expression or None,
        "every": row.every_ms,
        "offset": repeat_offset(row),
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
