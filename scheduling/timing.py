"""Fire times of a ``Schedule`` (saved or not): the bridge from its fields to :mod:`scheduling.cron`.

Beat, the preview endpoint and the pages all call :func:`fire_times` / :func:`next_fire`, so what a
user previews is what beat does. Rules: no fire before ``start_at`` or after ``end_at`` (both
inclusive); interval fire k is at ``anchor_at + k*every_ms`` (k >= 0); a one-time schedule fires at ``at``.

Beat's next-fire computation goes through :func:`celery_schedule`, which returns our Celery schedule
classes (:class:`scheduling.cron.CronSchedule`, :class:`scheduling.cron.IntervalSchedule`, both
backed by cronsim / anchored integer arithmetic); :func:`fire_times` calls the same functions those
classes call (``cron_fire_times`` / ``interval_fire_times``), so there is one code path.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from . import cron
from .models import ScheduleKind

_TICK = timedelta(microseconds=1)


def celery_schedule(schedule) -> cron.CronSchedule | cron.IntervalSchedule | None:
    """The Celery schedule object (ours, cronsim-backed) of a cron or interval schedule; ``None`` for ``at``.

    Beat advances a due schedule with ``celery_schedule(row).next_after(fire_time)``.
    """
    if schedule.kind == ScheduleKind.CRON:
        return cron.CronSchedule(schedule.cron_expression, schedule.time_zone)
    if schedule.kind == ScheduleKind.EVERY:
        return cron.IntervalSchedule(schedule.anchor_at or schedule.start_at, schedule.every_ms)
    return None


def fire_times(schedule, *, after: datetime, count: int) -> list[datetime]:
    """The first ``count`` fire times (aware UTC) strictly after ``after``, within start/end bounds.

    Ignores ``limit`` and state; callers that need them apply them (see :func:`next_fire`).
    """
    if count <= 0:
        return []
    start, end = schedule.start_at, schedule.end_at
    if start is not None and after < start:
        after = start - _TICK
    if schedule.kind == ScheduleKind.CRON:
        return cron.cron_fire_times(schedule.cron_expression, schedule.time_zone, after, count, until=end)
    if schedule.kind == ScheduleKind.EVERY:
        anchor = schedule.anchor_at or start
        return cron.interval_fire_times(anchor, schedule.every_ms, after, count, until=end)
    at = schedule.at
    return [at] if at is not None and at > after and (end is None or at <= end) else []


def next_fire(schedule, *, after: datetime) -> datetime | None:
    """The next fire time strictly after ``after`` (aware UTC); ``None`` once the schedule has no more runs.

    ``None`` when ``limit`` runs were made, a one-time schedule has run, or the next fire would be
    after ``end_at``. Cron and interval schedules are advanced by their Celery schedule object.
    """
    if schedule.limit is not None and schedule.run_count >= schedule.limit:
        return None
    if schedule.kind == ScheduleKind.AT:
        if schedule.run_count > 0:
            return None
        found = fire_times(schedule, after=after, count=1)
        return found[0] if found else None
    start, end = schedule.start_at, schedule.end_at
    if start is not None and after < start:
        after = start - _TICK
    cadence = celery_schedule(schedule)
    assert cadence is not None  # cron or interval: the one-time kind returned above
    fire = cadence.next_after(after)
    if fire is None or (end is not None and fire > end):
        return None
    return fire


def describe(schedule) -> str:
    """Human text for the schedule's cadence, e.g. "At 00:00, every day (America/New_York)"."""
    if schedule.kind == ScheduleKind.CRON:
        return cron.describe_cron(schedule.cron_expression, schedule.time_zone)
    if schedule.kind == ScheduleKind.EVERY:
        text = cron.describe_interval(schedule.every_ms)
        return text[:1].upper() + text[1:] if text else text
    return f"Once at {schedule.at.isoformat().replace('+00:00', 'Z')}" if schedule.at else "Once"
