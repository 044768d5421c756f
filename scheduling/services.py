"""Schedule services: the one place that writes ``Schedule`` rows and their ``PeriodicTask`` projection.

API views, page forms and admin all call these, so every rule (cron validity, time zones,
``endDate`` after ``startDate``, minimum interval, options) is enforced identically.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard, overload

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)

from config.errors import ConflictError, StateError
from jobs import named_queues
from jobs.ids import epoch_ms, from_epoch_ms
from jobs.models import Job, JobState
from jobs.publishing import publish_batches
from jobs.realtime import publish_job_event, publish_schedule_event
from jobs.submission import PayloadTooLargeError, job_submit, stored_size, validate_job_input

from . import cron, timing
from .models import Overlap, Schedule, ScheduleKind, ScheduleState

logger = logging.getLogger(__name__)

FIRE_TASK = "scheduling.tasks.fire_schedule"
SPEC_KEYS = {
    "cron",
    "pattern",
    "tz",
    "repeat",
    "every",
    "offset",
    "immediately",
    "at",
    "startDate",
    "endDate",
    "limit",
    "overlap",
}
REPEAT_KEYS = {"every", "limit", "offset"}
MAX_EVERY_MS = 10 * 365 * 24 * 3600 * 1000
MAX_PREVIEW = 100


def now_ms() -> datetime:
    """Now (aware UTC) in whole milliseconds, the precision of BullMQ's times and of ``repeat:`` job ids.

    New interval grids and immediate fires start here, so a fire's time is exactly the ms of its id.
    """
    now = timezone.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _err(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# Instants a schedule may name: the calendar of Python's datetime (years 1-9999) less a day at each end,
# so that reading an instant in any time zone (offsets up to ±14 h) and stepping past it stay inside it.
MIN_INSTANT = datetime(1, 1, 2, tzinfo=UTC)
MAX_INSTANT = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def parse_instant(value: Any, field: str) -> datetime | None:
    """An ISO 8601 string with an offset or ``Z``, or epoch milliseconds, as an aware UTC datetime.

    The one parser of the instants of the API (``at``, ``startDate``, ``endDate``, preview ``from``).
    ``None`` for ``None`` (or the key left out). Raises ``ValidationError`` keyed by ``field`` for
    anything else that is not an instant with an offset between :data:`MIN_INSTANT` and
    :data:`MAX_INSTANT` (``0001-01-01T00:00:00+01:00`` is before year 1 in UTC), ``""`` included,
    as the OpenAPI document says (a date-time or epoch milliseconds).
    """
    if value is None:
        return None
    if value == "":
        raise _err(field, f"{field}: must be an ISO 8601 date-time with an offset or Z")
    bounds = f"{field}: must be between 0001-01-02T00:00:00Z and 9999-12-30T23:59:59Z"
    if _is_int(value):
        try:
            parsed = datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise _err(field, f"{field}: {str(value)[:40]} is not a valid epoch-milliseconds time") from None
    elif not isinstance(value, str):
        raise _err(field, f"{field}: must be an ISO 8601 date-time string or epoch milliseconds")
    else:
        try:
            local = parse_datetime(value.strip())
        except ValueError:
            local = None
        if local is None:
            raise _err(
                field, f"{field}: '{value[:60]}' is not an ISO 8601 date-time (e.g. 2030-07-01T00:00:00Z)"
            )
        if local.tzinfo is None:
            raise _err(field, f"{field}: '{value[:60]}' needs a UTC offset or Z (e.g. 2030-07-01T00:00:00Z)")
        try:
            parsed = local.astimezone(UTC)
        except OverflowError:
            raise _err(field, bounds, "out_of_range") from None
    if not MIN_INSTANT <= parsed <= MAX_INSTANT:
        raise _err(field, bounds, "out_of_range")
    return parsed


def parse_schedule_spec(raw: Any, *, now: datetime | None = None) -> dict:
    """Validate the API's ``schedule`` object and return ``Schedule`` field values plus ``immediately``.

    ``raw`` is exactly one of ``{cron, tz?}`` (BullMQ's ``pattern`` is the same key),
    ``{repeat: {every, limit?, offset?}}`` (``every``/``offset`` may also sit at the top, BullMQ's flat
    repeat options) or ``{at}``, plus optional ``startDate``, ``endDate``, ``limit``, ``overlap``
    ("allow" | "skip") and ``immediately``. ``immediately`` (BullMQ) is not stored: the returned
    ``"immediately"`` is True when this write asks a cron schedule for one run at once (it is a no-op
    for ``every``, which runs at once anyway; refused with ``startDate`` and for ``at``).
    ``offset`` (BullMQ, ms, 0 < offset < every; 0 means none) puts interval fires on
    ``epoch + offset + k*every`` and is refused with ``startDate`` (which anchors the grid itself).
    Raises ``ValidationError`` keyed by the JSON path (``schedule.cron``, ``schedule.endDate``, ...).
    """
    now = now or now_ms()
    _check_object(raw, "schedule", "with one of cron, repeat or at", SPEC_KEYS)
    if raw.get("cron") is not None and raw.get("pattern") is not None:
        raise _err("schedule", "schedule: give cron or pattern (BullMQ's name for it), not both")
    expression = raw["cron"] if raw.get("cron") is not None else raw.get("pattern")
    repeat = _repeat_object(raw)
    kinds = [k for k, v in (("cron", expression), ("repeat", repeat), ("at", raw.get("at"))) if v is not None]
    if len(kinds) != 1:
        raise _err("schedule", "schedule: give exactly one of cron, repeat (with every) or at")
    fields: dict[str, Any] = {
        "cron_expression": "",
        "time_zone": "UTC",
        "every_ms": None,
        "offset_ms": None,
        "at": None,
        "start_at": parse_instant(raw.get("startDate"), "schedule.startDate"),
        "end_at": parse_instant(raw.get("endDate"), "schedule.endDate"),
        "limit": None,
        "overlap": Overlap.ALLOW if raw.get("overlap") is None else raw["overlap"],
    }
    if fields["overlap"] not in Overlap.values:  # {} or "" used to pass as "allow"
        raise _err("schedule.overlap", "schedule.overlap: must be 'allow' or 'skip'")
    limit = raw.get("limit")
    if limit is not None and (not _is_int(limit) or not 1 <= limit <= 2**31 - 1):
        # Checked even when repeat.limit (which wins) is given too: a bad value is never ignored.
        raise _err("schedule.limit", "schedule.limit: must be an integer >= 1 (the number of runs)")
    tz = raw.get("tz")
    if tz is not None and not isinstance(tz, str):
        raise _err("schedule.tz", "schedule.tz: must be an IANA time zone name such as 'Europe/Berlin'")
    try:
        fields["time_zone"] = cron.validate_time_zone(tz or "UTC").key
    except cron.CronError as exc:
        raise _err("schedule.tz", f"schedule.{exc}", exc.code) from None

    if kinds[0] == "cron":
        if not isinstance(expression, str):
            raise _err("schedule.cron", "schedule.cron: must be a cron expression string such as '0 0 * * *'")
        try:
            fields["cron_expression"] = cron.validate_cron(expression, fields["time_zone"])
        except cron.CronError as exc:
            raise _err("schedule.cron", f"schedule.{exc}", exc.code) from None
        fields["kind"] = ScheduleKind.CRON
    elif repeat is not None:
        every = repeat.get("every")
        minimum = settings.SCHEDULE_MIN_EVERY_MS
        if not _is_int(every) or not minimum <= every <= MAX_EVERY_MS:
            raise _err(
                "schedule.repeat.every",
                "schedule.repeat.every: must be an integer number of milliseconds"
                f" between {minimum} and {MAX_EVERY_MS}",
            )
        fields["every_ms"] = every
        fields["kind"] = ScheduleKind.EVERY
        if repeat.get("limit") is not None:
            limit = repeat["limit"]
    else:
        fields["at"] = parse_instant(raw["at"], "schedule.at")
        if fields["at"] is None:  # "" parses as "no instant", but a one-time schedule needs one
            raise _err("schedule.at", "schedule.at: must be an ISO 8601 date-time with an offset or Z")
        if fields["at"] <= now:
            raise _err("schedule.at", "schedule.at: must be in the future")
        fields["kind"] = ScheduleKind.AT

    if limit is not None:
        if not _is_int(limit) or not 1 <= limit <= 2**31 - 1:
            raise _err("schedule.limit", "schedule.limit: must be an integer >= 1 (the number of runs)")
        fields["limit"] = limit
    start, end = fields["start_at"], fields["end_at"]
    if end is not None:
        if start is not None and end <= start:
            raise _err("schedule.endDate", "schedule.endDate: must be after startDate")
        if end <= now:
            raise _err("schedule.endDate", "schedule.endDate: must be in the future")
    fields["offset_ms"] = _offset_ms(raw, repeat or {}, fields)
    fields["immediately"] = _immediately(raw.get("immediately"), fields)
    return fields


def _check_object(value: Any, field: str, shape: str, allowed: set[str]) -> None:
    if not isinstance(value, dict):
        raise _err(field, f"{field}: must be an object {shape}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _err(
            field, f"{field}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _repeat_object(raw: dict) -> dict | None:
    """The ``repeat`` object, or ``{every}`` when BullMQ's flat ``every`` is given at the top."""
    repeat = raw.get("repeat")
    if repeat is None:
        return {"every": raw["every"]} if raw.get("every") is not None else None
    _check_object(repeat, "schedule.repeat", "{every, limit?, offset?}", REPEAT_KEYS)
    if raw.get("every") is not None:
        raise _err("schedule.every", "schedule.every: give every either at the top or in repeat, not both")
    return repeat


def _offset_ms(raw: dict, repeat: dict, fields: dict) -> int | None:
    """BullMQ's ``offset`` (top level or in ``repeat``): ``None`` for absent or 0 (BullMQ: no offset)."""
    given = [value for value in (raw.get("offset"), repeat.get("offset")) if value is not None]
    if len(given) > 1:
        raise _err("schedule.offset", "schedule.offset: give offset either at the top or in repeat, not both")
    if not given or (_is_int(given[0]) and given[0] == 0):
        return None
    every = fields["every_ms"]
    if every is None:
        raise _err("schedule.offset", "schedule.offset: applies to an interval (repeat.every) only")
    if not _is_int(given[0]) or not 0 <= given[0] < every:
        raise _err(
            "schedule.offset",
            f"schedule.offset: must be an integer number of milliseconds from 0 to every - 1 ({every - 1})",
        )
    if fields["start_at"] is not None:
        raise _err(
            "schedule.offset",
            "schedule.offset: cannot be combined with startDate, which anchors the interval's fire times",
        )
    return given[0]


def _immediately(value: Any, fields: dict) -> bool:
    """BullMQ's ``immediately``: True when a cron schedule asks for one run at once on this write."""
    if value is None or value is False:
        return False
    if value is not True:
        raise _err("schedule.immediately", "schedule.immediately: must be true or false")
    if fields["start_at"] is not None:
        # BullMQ: "Both .immediately and .startDate options are defined for this repeatable job"
        raise _err("schedule.immediately", "schedule.immediately: cannot be combined with startDate")
    if fields["kind"] == ScheduleKind.AT:
        raise _err("schedule.immediately", "schedule.immediately: applies to cron and repeat, not to at")
    return fields["kind"] == ScheduleKind.CRON


def _validate_definition(
    *, name: Any, data: Any, options: Any, spec: Any, now: datetime
) -> tuple[dict, dict]:
    merged = validate_job_input(name=name, data=data, options=options)
    if isinstance(options, dict) and "jobId" in options:
        raise _err("options", "options.jobId: not allowed on a schedule; each run gets its own job id")
    return parse_schedule_spec(spec, now=now), merged


def _anchor(schedule: Schedule, now: datetime, *, restart: bool) -> datetime:
    """Fire 0 of an interval grid that starts or moves now (``Schedule.anchor_at``).

    With ``offset`` (BullMQ): the first instant after ``now`` whose epoch ms is ``offset`` past a
    multiple of ``every``. Else ``startDate`` (our anchoring: fires at startDate + k*every, even if it
    is past), except on ``restart`` (an existing schedule's interval changed), where BullMQ counts the
    new grid from now: a past ``startDate`` gives way to ``now`` (one run at once); a future one stays.
    """
    if schedule.kind == ScheduleKind.EVERY and schedule.offset_ms:
        assert schedule.every_ms is not None  # an interval has one (parse_schedule_spec)
        every, at = schedule.every_ms, epoch_ms(now)
        slot = at // every * every + schedule.offset_ms
        return from_epoch_ms(slot if slot > at else slot + every)
    if schedule.start_at is not None and (not restart or schedule.start_at >= now):
        return schedule.start_at
    return now


_CADENCE = ("kind", "cron_expression", "time_zone", "every_ms", "offset_ms", "at")


def _cadence(values: dict) -> tuple:
    """What decides a schedule's fire times besides its bounds; the zone only matters to a cron."""
    zone_matters = values["kind"] == ScheduleKind.CRON
    return tuple(None if key == "time_zone" and not zone_matters else values[key] for key in _CADENCE)


def _first_fire(schedule: Schedule, now: datetime) -> datetime | None:
    """Next fire of a new, redefined or resumed schedule, never at or before a fire already made.

    An interval's grid point equal to now counts (fire 0 of a schedule created without
    ``startDate`` is its creation instant); past grid points are not made up.
    """
    after = now
    if schedule.kind == ScheduleKind.EVERY:
        after = now - timedelta(microseconds=1)
    if schedule.last_run_at is not None and schedule.last_run_at >= after:
        after = schedule.last_run_at
    return timing.next_fire(schedule, after=after)


def _project(schedule: Schedule) -> None:
    """Create, update or remove the ``PeriodicTask`` mirroring ``schedule`` (docs/scheduling.md,
    "The django-celery-beat projection").

    The task gets a crontab, interval or clocked row stating the schedule's timing exactly, or no
    task at all when django-celery-beat cannot state it (:func:`_timing_row`). Each task has a row
    of its own: a changed timing gets a new row and the old one is deleted once no task refers to it,
    so changes leave no orphan rows behind.
    """
    timing_row = _timing_row(schedule)
    task = schedule.periodic_task
    if timing_row is None:
        if task is not None:
            Schedule.objects.filter(pk=schedule.pk).update(periodic_task=None)
            schedule.periodic_task = None
            _unproject(task)
        return
    task = task or PeriodicTask(name=f"schedule:{schedule.pk}", task=FIRE_TASK)
    task.args = json.dumps([schedule.pk])
    task.queue = "schedules"
    task.enabled = schedule.state == ScheduleState.ACTIVE
    task.start_time = schedule.start_at
    task.expires = schedule.end_at
    task.one_off = schedule.kind == ScheduleKind.AT
    task.description = f"{schedule.owner_id}:{schedule.scheduler_id} {timing.describe(schedule)}"[:2000]
    old = [row for row in (task.crontab, task.interval, task.clocked) if row is not None]
    kept = next((row for row in old if _same_timing(row, timing_row)), None)
    if kept is None:
        timing_row.save()
        kept = timing_row
    task.crontab = task.interval = task.clocked = None
    setattr(task, _TIMING_FIELD[type(kept)], kept)
    task.save()
    _drop_unused(row for row in old if row is not kept)
    if schedule.periodic_task_id != task.pk:
        schedule.periodic_task = task
        Schedule.objects.filter(pk=schedule.pk).update(periodic_task=task)


_TIMING_FIELD = {CrontabSchedule: "crontab", IntervalSchedule: "interval", ClockedSchedule: "clocked"}


def _timing_row(schedule: Schedule) -> CrontabSchedule | IntervalSchedule | ClockedSchedule | None:
    """An unsaved django-celery-beat row stating the schedule's timing exactly, or ``None`` if none can.

    None for a cron Celery's crontab cannot state (:func:`cron.celery_crontab_fields`: seconds other
    than 0, ``L``/``W``/``#``, the day-of-month OR day-of-week rule) and for an interval that is neither
    a whole number of days/hours/minutes/seconds nor below 2^31 microseconds (:func:`_interval_projection`).
    """
    if schedule.kind == ScheduleKind.CRON:
        columns = cron.celery_crontab_fields(schedule.cron_expression)
        return None if columns is None else CrontabSchedule(**columns, timezone=schedule.time_zone)
    if schedule.kind == ScheduleKind.EVERY:
        assert schedule.every_ms is not None
        projected = _interval_projection(schedule.every_ms)
        return None if projected is None else IntervalSchedule(every=projected[0], period=projected[1])
    return ClockedSchedule(clocked_time=schedule.at)


def _same_timing(row, wanted) -> bool:
    if type(row) is not type(wanted):
        return False
    if isinstance(row, CrontabSchedule):
        names = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone")
        return all(str(getattr(row, n)) == str(getattr(wanted, n)) for n in names)
    if isinstance(row, IntervalSchedule):
        return (row.every, row.period) == (wanted.every, wanted.period)
    return row.clocked_time == wanted.clocked_time


def _drop_unused(rows) -> None:
    """Delete crontab/interval/clocked rows no ``PeriodicTask`` refers to any more.

    Rows are not shared by schedules, but django-celery-beat's own ``from_schedule`` (system tasks of
    ``CELERY_BEAT_SCHEDULE``) may pick up any row with equal fields, and deleting a referenced row
    would cascade to that task: the filter keeps such a row.
    """
    for row in rows:
        type(row).objects.filter(pk=row.pk, periodictask__isnull=True).delete()


def _unproject(task: PeriodicTask) -> None:
    """Delete a schedule's ``PeriodicTask`` and its crontab/interval/clocked row; bump beat's tracker."""
    rows = [row for row in (task.crontab, task.interval, task.clocked) if row is not None]
    PeriodicTask.objects.filter(pk=task.pk).delete()
    _drop_unused(rows)
    PeriodicTasks.update_changed()


def schedule_deleted(*, instance: Schedule, **_) -> None:
    """``post_delete`` receiver of ``Schedule`` (connected in ``SchedulingConfig.ready``): its projection
    goes with it, on every path that deletes a schedule (:func:`schedule_delete`, the admin, and the
    cascade when its owner is deleted)."""
    if instance.periodic_task_id is None:
        return
    task = (
        PeriodicTask.objects.select_related("crontab", "interval", "clocked")
        .filter(pk=instance.periodic_task_id)
        .first()
    )
    if task is not None:
        _unproject(task)


def _interval_projection(every_ms: int) -> tuple[int, str] | None:
    """``(every, period)`` for django-celery-beat's ``IntervalSchedule``: the coarsest exact unit.

    Its ``every`` is a 32-bit integer, so microseconds only fit below ~35.8 minutes; an interval
    that is not a whole number of seconds and longer than that cannot be stated exactly: ``None``
    (no projection; beat fires from ``Schedule.every_ms`` in any case).
    """
    for period, size in (
        (IntervalSchedule.DAYS, 86_400_000),
        (IntervalSchedule.HOURS, 3_600_000),
        (IntervalSchedule.MINUTES, 60_000),
        (IntervalSchedule.SECONDS, 1000),
    ):
        if every_ms % size == 0 and every_ms // size <= 2**31 - 1:
            return every_ms // size, period
    if every_ms * 1000 <= 2**31 - 1:
        return every_ms * 1000, IntervalSchedule.MICROSECONDS
    return None


@transaction.atomic
def schedule_create(
    *,
    owner,
    name: Any,
    data: Any,
    schedule: Any,
    options: Any = None,
    scheduler_id: str | None = None,
    queue: Any = None,
    flow: Any = None,
) -> Schedule:
    """Create a schedule and its ``PeriodicTask`` in one transaction.

    ``schedule`` is the API's schedule object (see :func:`parse_schedule_spec`); ``queue`` the named
    queue of its jobs (``None``: ``JOB_DEFAULT_QUEUE``). ``flow``: child jobs of the flow each fire
    creates (docs/flows.md), checked by ``flows.services.schedule_flow_check``. Raises
    ``ValidationError`` for bad input and ``ScheduleExists`` if ``scheduler_id`` is taken by this owner.
    """
    now = now_ms()
    fields, merged = _validate_definition(name=name, data=data, options=options, spec=schedule, now=now)
    _check_flow(owner, name, data, options, flow)
    immediately = fields.pop("immediately")
    if scheduler_id is not None:
        _check_scheduler_id(scheduler_id)
        if Schedule.objects.owned_by(owner).filter(scheduler_id=scheduler_id).exists():
            raise ScheduleExists(f"schedulerId: '{scheduler_id}' already exists; use PUT to replace it")
    row = Schedule(
        owner=owner, name=name, data=data, options=_stored_options(options),
        queue=named_queues.validate(queue), flow=flow, **fields,
    )
    if scheduler_id is not None:
        row.scheduler_id = scheduler_id
    row.anchor_at = _anchor(row, now, restart=False)
    row.next_fire_at = now if immediately else _first_fire(row, now)
    _ensure_fires(row)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        if scheduler_id is None:
            raise
        # A concurrent POST or PUT of the same id committed between the check above and this INSERT.
        raise ScheduleExists(f"schedulerId: '{scheduler_id}' already exists; use PUT to replace it") from None
    _project(row)
    return row


def _check_flow(owner, name: Any, data: Any, options: Any, flow: Any) -> None:
    """A schedule's ``flow`` key (``None``: a plain schedule): ``flows.services.schedule_flow_check``."""
    if flow is not None:
        from flows.services import schedule_flow_check

        schedule_flow_check(owner=owner, name=name, data=data, options=options, queue=None, flow=flow)


_KEEP: Any = object()  # _redefine: leave the stored flow as it is (page and admin edits do not show it)


def _stored_options(options: Any) -> dict:
    return dict(options) if isinstance(options, dict) else {}


# Ids a URL /jobs/schedule/{schedulerId} cannot reach: a collection route of the API (POST
# /jobs/schedule/preview; tests/scheduling/test_scheduler_id_routes.py keeps this in step with the
# routes) and the dot segments that clients and proxies normalise away.
RESERVED_SCHEDULER_IDS = frozenset({"preview", ".", ".."})


def _check_scheduler_id(scheduler_id: Any) -> None:
    if (
        not isinstance(scheduler_id, str)
        or not scheduler_id.strip()
        or len(scheduler_id) > 200
        or "/" in scheduler_id
    ):
        raise _err(
            "schedulerId", "schedulerId: must be a non-empty string of at most 200 characters without '/'"
        )
    if scheduler_id in RESERVED_SCHEDULER_IDS:
        raise _err(
            "schedulerId",
            f"schedulerId: '{scheduler_id}' is reserved (it names a route or a URL path segment); "
            "choose another id",
            "reserved",
        )


def _ensure_fires(row: Schedule) -> None:
    if row.next_fire_at is None:
        raise _err(
            "schedule",
            "schedule: it would never fire (no fire time between startDate and endDate)",
            "never_fires",
        )


class ScheduleExists(ConflictError):
    """A schedule with that ``schedulerId`` already exists for this owner (API: 409)."""


class ScheduleStateError(StateError):
    """The schedule's state does not allow the action, or it was deleted meanwhile (API: 409)."""


def _locked(schedule: Schedule) -> Schedule:
    """The schedule's row, locked for this transaction (PostgreSQL; SQLite's write lock serialises the
    writers anyway). Every action that writes a schedule or its jobs takes this lock first, so a
    DELETE racing a pause, trigger or edit is ordered with it: a 409 when the row is already gone."""
    row = Schedule.objects.select_for_update().filter(pk=schedule.pk).first()
    if row is None:
        raise ScheduleStateError(f"schedulerId: '{schedule.scheduler_id}' was deleted meanwhile")
    return row


@transaction.atomic
def schedule_replace(
    *, owner, scheduler_id: str, name: Any, data: Any, schedule: Any, options: Any = None, queue: Any = None,
    flow: Any = _KEEP,
):
    """Upsert by ``scheduler_id`` (BullMQ ``upsertJobScheduler``). Returns ``(schedule, created)``.

    A replaced schedule keeps its run count and history; when and whether its next fire moves is
    :func:`_redefine`'s rule. Two concurrent upserts of a new id create one schedule; the later one
    replaces it (BullMQ: "when 2 jobs with the same options are added ... creates only one job").
    """
    _check_scheduler_id(scheduler_id)
    mine = Schedule.objects.owned_by(owner).select_for_update().filter(scheduler_id=scheduler_id)
    existing = mine.first()
    if existing is None:
        try:
            definition = {"name": name, "data": data, "schedule": schedule, "options": options}
            definition["queue"] = queue
            new_flow = None if flow is _KEEP else flow
            return schedule_create(owner=owner, scheduler_id=scheduler_id, flow=new_flow, **definition), True
        except ScheduleExists:
            existing = mine.get()
    return _redefine(
        existing, name=name, data=data, spec=schedule, options=options, queue=queue, flow=flow
    ), False


def _redefine(
    row: Schedule, *, name: Any, data: Any, spec: Any, options: Any, queue: Any = None, flow: Any = _KEEP
) -> Schedule:
    """Apply a full definition to a stored schedule (PUT, PATCH, page and admin edits), as BullMQ's
    upsert treats a scheduler that exists:

    * Timing unchanged (cadence and ``startDate``): the pending fire and the counters stay; a new
      ``name``, ``data`` or ``options`` applies to that fire without moving it (BullMQ keeps the
      pending job's time: "when 2 jobs with the same options are added"). A tighter ``limit`` or
      ``endDate`` may end the schedule instead.
    * Cadence changed (``every``/``offset``, cron expression, its ``tz``, or the kind): an interval
      runs once at once and counts its new grid from that run ("should reschedule immediately when
      changing every interval"; a future ``startDate`` or an ``offset`` slot still comes first); a
      cron fires at its next match after now ("should update delayed job timestamp when upserting
      with different pattern"). A new ``startDate`` moves the grid to it.
    * ``immediately`` on a cron schedule: one run at once, then the cadence.
    * A paused schedule stays paused; an ended one stays ended unless the new definition allows more
      runs (a ``limit`` above its run count, or a later ``endDate``).
    """
    now = now_ms()
    fields, _ = _validate_definition(name=name, data=data, options=options, spec=spec, now=now)
    flow = row.flow if flow is _KEEP else flow
    _check_flow(row.owner, name, data, options, flow)
    row.flow = flow
    immediately = fields.pop("immediately")
    before = _cadence({key: getattr(row, key) for key in _CADENCE})
    start_changed = fields["start_at"] != row.start_at
    for key, value in fields.items():
        setattr(row, key, value)
    row.name, row.data, row.options = name, data, _stored_options(options)
    row.queue = named_queues.validate(queue)
    cadence_changed = _cadence(fields) != before
    if cadence_changed or start_changed or row.anchor_at is None:
        row.anchor_at = _anchor(row, now, restart=cadence_changed)
    if row.state == ScheduleState.ENDED and (row.limit is None or row.run_count < row.limit):
        row.state = ScheduleState.ACTIVE
    if row.state == ScheduleState.ACTIVE:
        row.next_fire_at = _next_fire_when_redefined(
            row, now, moved=cadence_changed or start_changed, immediately=immediately
        )
        if row.next_fire_at is None:
            if row.run_count == 0:
                _ensure_fires(row)
            row.state = ScheduleState.ENDED
    row.save()
    _project(row)
    return row


def _next_fire_when_redefined(
    row: Schedule, now: datetime, *, moved: bool, immediately: bool
) -> datetime | None:
    if row.limit is not None and row.run_count >= row.limit:
        return None
    if immediately:
        return now
    pending = row.next_fire_at
    if not moved and pending is not None:
        return None if row.end_at is not None and pending > row.end_at else pending
    return _first_fire(row, now)


def spec_of(row: Schedule) -> dict:
    """The API's schedule object for a stored schedule (inverse of :func:`parse_schedule_spec`)."""
    iso = _iso
    if row.kind == ScheduleKind.CRON:
        spec: dict[str, Any] = {"cron": row.cron_expression, "tz": row.time_zone}
    elif row.kind == ScheduleKind.EVERY:
        spec = {"repeat": {"every": row.every_ms}}
        if row.limit is not None:
            spec["repeat"]["limit"] = row.limit
        if row.offset_ms:
            spec["repeat"]["offset"] = row.offset_ms
    else:
        spec = {"at": iso(row.at)}
    if row.start_at:
        spec["startDate"] = iso(row.start_at)
    if row.end_at:
        spec["endDate"] = iso(row.end_at)
    if row.limit is not None and row.kind != ScheduleKind.EVERY:
        spec["limit"] = row.limit
    if row.overlap != Overlap.ALLOW:
        spec["overlap"] = row.overlap
    return spec


@overload
def _iso(value: datetime) -> str: ...
@overload
def _iso(value: None) -> None: ...
def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


@transaction.atomic
def schedule_update(*, schedule: Schedule, changes: dict) -> Schedule:
    """PATCH: apply any subset of ``{name, data, schedule, options}``; ``schedule`` keys merge over the
    stored definition (a new cron/repeat/at replaces the old kind). Same validation as create."""
    row = _locked(schedule)
    unknown = sorted(set(changes) - {"name", "data", "schedule", "options", "queue", "flow"})
    if unknown:
        raise _err(
            "non_field_errors",
            f"unknown field(s) {', '.join(unknown)}; allowed: name, data, schedule, options, queue, flow",
        )
    spec = spec_of(row)
    if "schedule" in changes:
        new = changes["schedule"]
        if not isinstance(new, dict):
            raise _err("schedule", "schedule: must be an object")
        if any(k in new for k in ("cron", "pattern", "repeat", "every", "at")):
            for k in ("cron", "repeat", "at", "tz"):
                spec.pop(k, None)
        limit_given = "limit" in new or (isinstance(new.get("repeat"), dict) and "limit" in new["repeat"])
        if "repeat" in spec and "repeat" not in new:
            for key in ("limit", "offset"):  # given at the top, they replace the stored ones in repeat
                if key in new:
                    spec["repeat"].pop(key, None)
        spec.update(new)
        if not limit_given and row.limit is not None:
            # A new cadence keeps the stored run limit unless the patch sets one ("limit": null clears it).
            if isinstance(spec.get("repeat"), dict):
                spec["repeat"].pop("limit", None)
            spec["limit"] = row.limit
    return _redefine(
        row,
        name=changes.get("name", row.name),
        data=changes.get("data", row.data),
        spec=spec,
        options=changes.get("options", row.options),
        queue=changes.get("queue", row.queue),
        flow=changes.get("flow", _KEEP),
    )


@transaction.atomic
def schedule_delete(*, schedule: Schedule) -> None:
    """Delete a schedule and its ``PeriodicTask`` (:func:`schedule_deleted`); jobs it created are kept.

    Idempotent: a schedule deleted meanwhile (a concurrent DELETE) is simply gone."""
    try:
        schedule = _locked(schedule)
    except ScheduleStateError:
        return
    schedule.delete()  # its projection goes with it: schedule_deleted


@transaction.atomic
def schedule_pause(*, schedule: Schedule) -> Schedule:
    """Stop firing until resumed. Idempotent for a paused schedule; 409 (``ScheduleStateError``) if ended
    or deleted meanwhile."""
    row = _locked(schedule)
    if row.state == ScheduleState.ENDED:
        raise ScheduleStateError("schedule has ended; it cannot be paused")
    if row.state == ScheduleState.ACTIVE:
        row.state, row.next_fire_at = ScheduleState.PAUSED, None
        row.save(update_fields=["state", "next_fire_at", "updated_at"])
        _project(row)
        transaction.on_commit(lambda: publish_schedule_event(row, "paused"))
    return row


@transaction.atomic
def schedule_resume(*, schedule: Schedule) -> Schedule:
    """Fire again from the next fire time after now (fires missed while paused are not made up)."""
    row = _locked(schedule)
    if row.state == ScheduleState.ENDED:
        raise ScheduleStateError("schedule has ended; it cannot be resumed")
    if row.state == ScheduleState.PAUSED:
        now = timezone.now()
        row.state = ScheduleState.ACTIVE
        row.next_fire_at = _first_fire(row, now)
        if row.next_fire_at is None:
            row.state = ScheduleState.ENDED
        row.save(update_fields=["state", "next_fire_at", "updated_at"])
        _project(row)
        transaction.on_commit(
            lambda: publish_schedule_event(row, "resumed" if row.state == "active" else "ended")
        )
    return row


def schedule_trigger(*, schedule: Schedule) -> Job:
    """Run the schedule's job once now, without changing its cadence or consuming its ``limit``.

    Allowed while active or paused (a manual run of a paused schedule); raises
    ``ScheduleStateError`` (API: 409) once the schedule has ended. The job has no ``fire_at`` (it is
    not a fire of the cadence) and ``overlap`` does not hold it back: the caller asked for it.
    Publishes ``fired`` with ``manual: true``. The schedule's row is locked while the job is written,
    so a concurrent DELETE either waits (and unlinks the new job) or has won (409).
    """
    with transaction.atomic():
        row = _locked(schedule)
        if row.state == ScheduleState.ENDED:
            raise ScheduleStateError("schedule has ended; it cannot be triggered")
        if row.flow:
            from flows.services import schedule_flow_fire

            job = schedule_flow_fire(schedule=row, fire_at=None, options=_fire_options(row))
        else:
            job, _ = job_submit(
                owner=schedule.owner,
                name=row.name,
                data=row.data,
                options=row.options,
                schedule=row,
            )
        transaction.on_commit(lambda: publish_schedule_event(row, "fired", jobId=job.public_id, manual=True))
    return job


def schedule_preview(*, spec: Any, count: Any = 5, after: Any = None) -> dict:
    """``{description, upcoming: [ISO UTC, ...]}``: the first ``count`` (1..100) fire times strictly after
    ``after`` (default now) for an unsaved schedule object, as if it were saved at ``after``; the same
    code beat uses. With ``immediately`` (cron) the first entry is that instant: the run at once."""
    now = now_ms()
    if count is None:
        count = 5
    if not _is_int(count) or not 1 <= count <= MAX_PREVIEW:
        raise _err("count", f"count: must be an integer between 1 and {MAX_PREVIEW}")
    start_from = parse_instant(after, "from") or now
    fields = parse_schedule_spec(spec, now=min(now, start_from))
    immediately = fields.pop("immediately")
    row = Schedule(**fields)
    row.anchor_at = _anchor(row, start_from, restart=False)
    times = [start_from] if immediately else []
    if row.kind == ScheduleKind.EVERY and row.start_at is None:
        assert row.every_ms is not None
        times += cron.interval_fire_times(
            row.anchor_at, row.every_ms, start_from, count - len(times), until=row.end_at
        )
    else:
        times += timing.fire_times(row, after=start_from, count=count - len(times))
    if row.limit is not None:
        times = times[: row.limit]
    return {"description": timing.describe(row), "upcoming": [_iso(t) for t in times]}


# --- firing (beat and the `schedules` queue) ------------------------------------------------------------


_CADENCE_FIELDS = (
    "kind",
    "cron_expression",
    "time_zone",
    "every_ms",
    "at",
    "anchor_at",
    "start_at",
    "end_at",
    "limit",
    "run_count",
    "last_run_at",
)
_DISPATCH_FIELDS = (
    *_CADENCE_FIELDS,
    "id",
    "owner_id",
    "scheduler_id",
    "name",
    "state",
    "next_fire_at",
    "periodic_task_id",
    "data",
    "options",
    "overlap",
)


def schedules_dispatch_due(*, now: datetime | None = None, batch_size: int = 1000, send=None) -> int:
    """Advance every due active schedule by one fire and insert the fire's job in the same transaction.

    Called by beat's leader. Schedules of deactivated owners are left alone (not fired, not advanced)
    until the owner is active again. Each due schedule fires at most once per call, with its stored nominal
    fire time, however many fires it missed (catch-up is coalesced); its next fire is the first one
    strictly after ``now``.

    Durable fires (issue 14): the jobs of the fires are bulk-inserted in the transaction that advances
    the schedules (:func:`_fired_jobs`), so a fire exists exactly when its run was counted
    (``runCount`` equals the schedule's jobs) and a lost message can always be finished by the
    reconciler; the waiting ones are published as ``run_jobs`` batches after commit. Each fire is
    handled on its own (issue 13): one that cannot become a job is a ``failed`` job of its schedule.
    ``send`` (tests) is called with each batch's ``[[schedule pk, fire time ISO], ...]``. Returns the
    number of fires dispatched.
    """
    now = now or timezone.now()
    ended: list[Schedule] = []
    with transaction.atomic():
        # A deactivated owner's schedules are held back (they fire again, once, when the owner is back).
        qs = Schedule.objects.filter(
            state=ScheduleState.ACTIVE, next_fire_at__lte=now, owner__is_active=True
        ).order_by("next_fire_at")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        due = list(qs.only(*_DISPATCH_FIELDS)[:batch_size])
        if not due:
            return 0
        fires = []
        memo: dict[tuple, datetime | None] = {}
        advanced = []
        for row in due:
            fire_at, last_run_at = row.next_fire_at, row.last_run_at
            row.run_count += 1  # counted before the next fire is computed: a limit ends on this run
            row.last_run_at = fire_at
            # Rows with the same cadence due at the same instant share their next fire: compute it once.
            key = tuple(getattr(row, f) for f in _CADENCE_FIELDS)
            try:
                if key not in memo:
                    memo[key] = timing.next_fire(row, after=max(now, fire_at))
            except Exception:  # one schedule's fault must not hold back the others' fires (issue 13)
                logger.exception("schedule %s: could not compute its next fire; not fired", row.pk)
                row.run_count -= 1
                row.last_run_at = last_run_at
                continue
            advanced.append(row)
            row.next_fire_at = memo[key]
            if row.next_fire_at is None:
                row.state = ScheduleState.ENDED
                ended.append(row)
            fires.append([row.pk, _iso(fire_at)])
        # One UPDATE per distinct (fire time, next fire, state): schedules due at the same instant on the
        # same cadence share them, so 1,000 due rows are usually 1 statement (Django's bulk_update
        # builds a CASE per row and per field: 5 s for 1,000 rows here).
        groups: dict[tuple, list[int]] = {}
        for row in advanced:
            groups.setdefault((row.last_run_at, row.next_fire_at, row.state), []).append(row.pk)
        for (fire_at, next_fire_at, state), pks in groups.items():
            Schedule.objects.filter(pk__in=pks).update(
                run_count=F("run_count") + 1, last_run_at=fire_at, next_fire_at=next_fire_at, state=state
            )
        if ended:
            PeriodicTask.objects.filter(
                pk__in=[r.periodic_task_id for r in ended if r.periodic_task_id]
            ).update(enabled=False)
            PeriodicTasks.update_changed()
        jobs = _insert_fired([(row, row.last_run_at) for row in advanced], now)
        transaction.on_commit(lambda: _enqueue_fired(jobs))
        if send is not None:
            send(fires)
    for row in ended:
        publish_schedule_event(row, "ended")
    return len(due)


def _fire_options(row: Schedule) -> dict:
    """The merged options of a fire of ``row``; raises ``ValidationError`` when the stored definition
    can no longer make a job (data over ``JOB_MAX_DATA_BYTES`` as stored, options invalid). The
    handler's name and data schema were checked when the schedule was written."""
    from jobs.options import validate_options


    named_queues.validate(row.queue)  # a queue the operator no longer declares: the fire fails
    size = stored_size(row.data)
    if size > settings.JOB_MAX_DATA_BYTES:
        raise PayloadTooLargeError(
            {"data": [f"data: {size} bytes is larger than the limit of {settings.JOB_MAX_DATA_BYTES} bytes"]}
        )
    return validate_options(row.options)


# A run of a schedule not finished yet (``overlap: skip``); a flow's root waits in waiting-children.
_UNFINISHED = [JobState.WAITING, JobState.WAITING_CHILDREN, JobState.DELAYED, JobState.ACTIVE]


def _fired_jobs(fires: list[tuple[Schedule, datetime]], now: datetime) -> list[Job]:
    """The unsaved job of each fire: ``waiting`` (or ``delayed`` per ``delay``); ``cancelled`` with a
    ``skipped:`` reason for an ``overlap: skip`` schedule whose previous run is still waiting or
    active; ``failed`` with a ``fire failed:`` reason when the fire cannot become a job."""
    skip_ids = [row.pk for row, _ in fires if row.overlap == Overlap.SKIP]
    busy = set(
        Job.objects.filter(
            schedule_id__in=skip_ids, state__in=_UNFINISHED
        ).values_list("schedule_id", flat=True)
    ) if skip_ids else set()
    jobs: list[Job] = []
    for row, fire_at in fires:
        try:
            merged = _fire_options(row)
        except Exception as exc:
            _reraise_transient(exc)
            jobs.append(_failed_fire_job(row, fire_at, exc, now))
            continue
        if row.pk in busy:
            jobs.append(Job(
                owner_id=row.owner_id, name=row.name, data=row.data, options=merged, schedule=row,
                scheduler_id=row.scheduler_id,
                fire_at=fire_at, state=JobState.CANCELLED, finished_at=now,
                failed_reason="skipped: the previous run of this schedule was still waiting or active",
            ))
            continue
        delay_ms = merged.get("delay", 0)
        jobs.append(Job(
            owner_id=row.owner_id, name=row.name, data=row.data, options=merged,
            priority=merged.get("priority", 0), schedule=row, scheduler_id=row.scheduler_id, queue=row.queue,
            fire_at=fire_at,
            state=JobState.DELAYED if delay_ms else JobState.WAITING,
            run_at=now + timedelta(milliseconds=delay_ms) if delay_ms else None,
            enqueued_at=None if delay_ms else now,
        ))
    return jobs


def _insert_fired(fires: list[tuple[Schedule, datetime]], now: datetime) -> list[Job]:
    """Bulk-insert the jobs of ``fires`` (inside the caller's transaction). A fire whose job already
    exists (unique (schedule, fire time): e.g. a fire message of an older release) keeps it."""
    if not fires:
        return []
    flows = [_fired_flow(row, fire_at, now) for row, fire_at in fires if row.flow]
    fires = [(row, fire_at) for row, fire_at in fires if not row.flow]
    if not fires:
        return flows
    jobs = _fired_jobs(fires, now)
    try:
        with transaction.atomic():
            return flows + Job.objects.bulk_create(jobs)
    except IntegrityError:
        existing = set(
            Job.objects.filter(
                schedule_id__in=[row.pk for row, _ in fires], fire_at__in={f for _, f in fires}
            ).values_list("schedule_id", "fire_at")
        )
        fresh = [j for j in jobs if (j.schedule_id, j.fire_at) not in existing]
        return flows + Job.objects.bulk_create(fresh)


def _fired_flow(row: Schedule, fire_at: datetime, now: datetime) -> Job:
    """The root job of the flow of one fire of a schedule with a ``flow`` (docs/flows.md); a fire that
    cannot become a flow is a ``failed`` job as for any fire (:func:`_failed_fire_job`)."""
    from flows.services import schedule_flow_fire

    if row.overlap == Overlap.SKIP:
        (job,) = _fired_jobs([(row, fire_at)], now)  # skipped (cancelled) or failed: that job is the fire
        if job.state not in (JobState.WAITING, JobState.DELAYED):
            job.save()
            return job
    try:
        with transaction.atomic():
            return schedule_flow_fire(schedule=row, fire_at=fire_at, options=_fire_options(row))
    except Exception as exc:
        _reraise_transient(exc)
        job = _failed_fire_job(row, fire_at, exc, now)
        job.save()
        return job


def seconds_until_next_fire(*, now: datetime | None = None, cap: float = 1.0) -> float:
    """Seconds until the earliest active schedule is due (0 if one is due), at most ``cap``."""
    now = now or timezone.now()
    nxt = (
        Schedule.objects.filter(state=ScheduleState.ACTIVE, next_fire_at__isnull=False, owner__is_active=True)
        .order_by("next_fire_at")
        .values_list("next_fire_at", flat=True)
        .first()
    )
    if nxt is None:
        return cap
    return max(0.0, min(cap, (nxt - now).total_seconds()))


def schedule_fire(*, schedule_id: int, fire_at: datetime | None) -> Job | None:
    """Turn one fire into a job (the ``schedules`` queue's work). Idempotent per (schedule, fire time).

    Returns the job, or ``None`` when the schedule was deleted meanwhile or ``overlap: skip`` held
    the run back (recorded as a ``cancelled`` job whose reason says so).
    """
    row = Schedule.objects.select_related("owner").filter(pk=schedule_id).first()
    if row is None:
        return None
    if fire_at is None:
        return schedule_trigger(schedule=row) if row.state != ScheduleState.ENDED else None
    if row.state == ScheduleState.PAUSED:  # paused after beat sent the fire: the pause wins
        return None
    if row.overlap == Overlap.SKIP:
        busy = row.jobs.filter(state__in=_UNFINISHED).exclude(
            fire_at=fire_at
        )
        if busy.exists():
            Job.objects.get_or_create(
                schedule=row, scheduler_id=row.scheduler_id, queue=row.queue,
                fire_at=fire_at,
                defaults={
                    "owner": row.owner,
                    "name": row.name,
                    "data": row.data,
                    "options": row.options,
                    "state": JobState.CANCELLED,
                    "failed_reason": "skipped: the previous run of this schedule was still waiting or active",
                    "finished_at": timezone.now(),
                },
            )
            return None
    if row.flow:
        from flows.services import schedule_flow_fire

        before = Job.objects.filter(schedule=row, fire_at=fire_at).exists()
        job = schedule_flow_fire(schedule=row, fire_at=fire_at, options=_fire_options(row))
        created = not before
    else:
        job, created = job_submit(
            owner=row.owner, name=row.name, data=row.data, options=row.options, schedule=row, fire_at=fire_at,
        )
    if created:
        publish_schedule_event(row, "fired", jobId=job.public_id, fireAt=_iso(fire_at))
    return job


def schedules_fire(*, fires: list[tuple[int, datetime]]) -> int:
    """Turn a batch of ``(schedule pk, fire time)`` pairs into jobs: the ``fire_schedules`` task's work.

    The same outcome as :func:`schedule_fire` for each pair (idempotent per pair, deleted schedules
    ignored, ``overlap: skip`` honoured), but jobs of ``overlap: allow`` schedules are inserted with
    one bulk INSERT per batch instead of one per fire, which is what lets 10,000 schedules due at the
    same instant start within seconds. Falls back to the one-by-one path if the bulk insert fails
    (e.g. a concurrent duplicate of unique (schedule, fire time)). Returns the number of jobs created.

    Every fire is handled on its own (issue 13): a fire that cannot become a job (its data over
    ``JOB_MAX_DATA_BYTES``, options no longer valid, any error of its own) becomes a ``failed`` job
    of that schedule whose reason starts ``fire failed:`` (:func:`_fire_failed`), visible in the
    schedule's jobs and events, and the rest of the batch goes on. Only a transient database error
    (``config.dberrors``) stops the batch, so that the task retries all of it (each pair is idempotent).
    """
    rows = Schedule.objects.select_related("owner").in_bulk({pk for pk, _ in fires})
    existing = set(
        Job.objects.filter(schedule_id__in=list(rows), fire_at__in={f for _, f in fires}).values_list(
            "schedule_id", "fire_at"
        )
    )
    one_by_one: list[tuple[int, datetime]] = []
    jobs: list[Job] = []
    merged_options: dict[int, dict | Exception] = {}
    now = timezone.now()
    for pk, fire_at in fires:
        row = rows.get(pk)
        if row is None or row.state == ScheduleState.PAUSED or (pk, fire_at) in existing:
            continue
        bulk = connection.features.can_return_rows_from_bulk_insert
        if row.overlap == Overlap.SKIP or row.flow or not bulk:
            one_by_one.append((pk, fire_at))
            continue
        if pk not in merged_options:
            try:
                merged_options[pk] = validate_job_input(name=row.name, data=row.data, options=row.options)
            except Exception as exc:
                _reraise_transient(exc)
                merged_options[pk] = exc
        merged = merged_options[pk]
        if isinstance(merged, Exception):
            jobs.append(_failed_fire_job(row, fire_at, merged, now))
            continue
        delay_ms = merged.get("delay", 0)
        jobs.append(
            Job(
                owner=row.owner,
                name=row.name,
                data=row.data,
                options=merged,
                priority=merged.get("priority", 0),
                schedule=row, scheduler_id=row.scheduler_id, queue=row.queue,
                fire_at=fire_at,
                state=JobState.DELAYED if delay_ms else JobState.WAITING,
                run_at=now + timedelta(milliseconds=delay_ms) if delay_ms else None,
            )
        )
    created = 0
    if jobs:
        try:
            with transaction.atomic():
                Job.objects.bulk_create(jobs)
        except Exception as exc:
            _reraise_transient(exc)
            if not isinstance(exc, IntegrityError):
                logger.warning("bulk insert of %d fired jobs failed; one by one", len(jobs), exc_info=True)
            one_by_one.extend((job.schedule_id, job.fire_at) for job in jobs)  # type: ignore[misc]  # both set above
            jobs = []
        _enqueue_fired(jobs)
        created += len(jobs)
    for pk, fire_at in one_by_one:
        before = Job.objects.filter(schedule_id=pk, fire_at=fire_at).exists()
        try:
            job = schedule_fire(schedule_id=pk, fire_at=fire_at)
        except Exception as exc:
            _reraise_transient(exc)
            job = _fire_failed(pk, fire_at, exc)
        created += int(job is not None and not before)
    return created


def _reraise_transient(exc: Exception) -> None:
    """A transient database error is the batch's, not the fire's: let the task retry the batch."""
    from django.db import DatabaseError

    from config.dberrors import is_transient_database_error

    if isinstance(exc, DatabaseError) and is_transient_database_error(exc):
        raise exc


def _fire_reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        text = "; ".join(exc.messages)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return f"fire failed: {text}"[:2000]


def _failed_fire_job(row: Schedule, fire_at: datetime, exc: Exception, now: datetime) -> Job:
    """The ``failed`` job that records a fire which could not become a job. Its ``data`` is not
    copied (it may be what was wrong: too large); ``options`` are the schedule's as stored."""
    return Job(
        owner=row.owner,
        name=row.name,
        data=None,
        options=row.options if isinstance(row.options, dict) else {},
        schedule=row, scheduler_id=row.scheduler_id, queue=row.queue,
        fire_at=fire_at,
        state=JobState.FAILED,
        failed_reason=_fire_reason(exc),
        finished_at=now,
    )


def _fire_failed(schedule_id: int, fire_at: datetime, exc: Exception) -> Job | None:
    """Record the fire ``(schedule_id, fire_at)`` that raised ``exc`` as a ``failed`` job (idempotent
    per pair: an existing job of the fire is kept) and announce it; never raises."""
    logger.warning("fire of schedule %s at %s failed", schedule_id, fire_at, exc_info=exc)
    try:
        row = Schedule.objects.select_related("owner").filter(pk=schedule_id).first()
        if row is None:
            return None
        failed = _failed_fire_job(row, fire_at, exc, timezone.now())
        job, created = Job.objects.get_or_create(
            schedule=row, scheduler_id=row.scheduler_id, queue=row.queue,
            fire_at=fire_at,
            defaults={f: getattr(failed, f) for f in
                      ("owner", "name", "data", "options", "state", "failed_reason", "finished_at",
                       "scheduler_id")},
        )
        if created:
            _announce_fire(job)
        return job
    except Exception:
        logger.exception("could not record the failed fire of schedule %s at %s", schedule_id, fire_at)
        return None


def _announce_fire(job: Job) -> None:
    """The fired job's events: ``waiting``/``delayed`` (or ``failed`` for a fire that failed) and the
    schedule's ``fired``; never raises (the job is stored, a page resyncs by snapshot)."""
    try:
        if job.state == JobState.FAILED:
            publish_job_event(job, "failed", error=job.failed_reason)
            publish_schedule_event(
                job.schedule, "fired", jobId=job.public_id, fireAt=_iso(job.fire_at), error=job.failed_reason
            )
        else:
            publish_schedule_event(job.schedule, "fired", jobId=job.public_id, fireAt=_iso(job.fire_at))
    except Exception:
        logger.warning("could not announce the fire of job %s", job.pk, exc_info=True)


def _enqueue_fired(jobs: list[Job]) -> None:
    """After commit: the waiting jobs' ``run_jobs`` batches first (so the last job is not held by
    events), then each job's state event and the schedule's ``fired``. Never raises."""
    try:
        publish_batches(jobs)
        for job in jobs:
            if job.state in (JobState.WAITING, JobState.DELAYED, JobState.CANCELLED):
                publish_job_event(job, job.state)
            if job.state != JobState.CANCELLED:  # a skipped fire is not announced as fired
                _announce_fire(job)
    except Exception:
        logger.warning("could not announce %d fired job(s)", len(jobs), exc_info=True)
