"""Schedule services: the one place that writes ``Schedule`` rows (create, replace, update, delete,
pause, resume, trigger, preview). They take the typed definition (``scheduling.definition``), so API
views, page forms and admin enforce every rule (cron validity, time zones, ``endDate`` after
``startDate``, minimum interval, options) identically. Each write re-projects the schedule onto
django-celery-beat (``scheduling.projection``); fires are ``scheduling.firing``'s, whose entry points
are importable from here too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, Unpack, overload

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import ConflictError, StateError
from jobs.ids import epoch_ms, from_epoch_ms
from jobs.models import Job
from jobs.realtime import publish_schedule_event
from jobs.submission import job_submit

from . import cron, timing
from .definition import (  # noqa: F401  (MAX_EVERY_MS, now_ms, parse_instant: imported from here too)
    KEEP,
    MAX_EVERY_MS,
    DefinitionError,
    ScheduleDefinition,
    ScheduleTiming,
    definition_parse,
    now_ms,
    parse_instant,
)
from .firing import (  # noqa: F401  (imported from here by tasks, beat and tests)
    _fire_options,
    schedule_fire,
    schedules_dispatch_due,
    schedules_fire,
    seconds_until_next_fire,
)
from .models import Overlap, Schedule, ScheduleKind, ScheduleState
from .projection import FIRE_TASK, _interval_projection, project, schedule_deleted  # noqa: F401

logger = logging.getLogger(__name__)

MAX_PREVIEW = 100


class ScheduleBody(TypedDict, total=False):
    """The API's schedule fields as sent (``POST /jobs/schedule``), before :func:`definition_parse`."""

    name: object
    data: object
    schedule: object
    options: object
    queue: object
    flow: object


def _definition(
    definition: ScheduleDefinition | None, body: ScheduleBody, now: datetime
) -> ScheduleDefinition:
    """The typed definition a service was given, or the one the API body it was given parses to."""
    return definition if definition is not None else definition_parse(**body, now=now)


def _anchor(schedule: Schedule, now: datetime, *, restart: bool) -> datetime:
    """Fire 0 of an interval grid that starts or moves now (``Schedule.anchor_at``).

    With ``offset`` (BullMQ): the first instant after ``now`` whose epoch ms is ``offset`` past a
    multiple of ``every``. Else ``startDate`` (our anchoring: fires at startDate + k*every, even if it
    is past), except on ``restart`` (an existing schedule's interval changed), where BullMQ counts the
    new grid from now: a past ``startDate`` gives way to ``now`` (one run at once); a future one stays.
    """
    if schedule.kind == ScheduleKind.EVERY and schedule.offset_ms:
        assert schedule.every_ms is not None  # an interval has one (ScheduleTiming)
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


@transaction.atomic
def schedule_create(
    *,
    owner: User,
    definition: ScheduleDefinition | None = None,
    scheduler_id: str | None = None,
    **body: Unpack[ScheduleBody],
) -> Schedule:
    """Create a schedule and its ``PeriodicTask`` in one transaction.

    ``definition`` is the typed definition (``scheduling.definition``); without it, ``body`` is the
    API's ``{name, data, schedule, options}``, parsed by :func:`definition_parse`. ``scheduler_id``
    (``schedulerId``) defaults to a new opaque ``sch_...`` id. Raises ``ValidationError`` for bad
    input and ``ScheduleExists`` if ``scheduler_id`` is taken by this owner.
    """
    now = now_ms()
    definition = _definition(definition, body, now)
    flow = None if definition.flow is KEEP else definition.flow
    _check_flow(owner, definition, flow)
    if scheduler_id is not None:
        check_scheduler_id(scheduler_id)
        if Schedule.objects.owned_by(owner).filter(scheduler_id=scheduler_id).exists():
            raise ScheduleExists(f"schedulerId: '{scheduler_id}' already exists; use PUT to replace it")
    row = Schedule(owner=owner, **{**definition.model_fields(), "flow": flow})
    if scheduler_id is not None:
        row.scheduler_id = scheduler_id
    row.anchor_at = _anchor(row, now, restart=False)
    row.next_fire_at = now if definition.timing.immediately else _first_fire(row, now)
    _ensure_fires(row)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        if scheduler_id is None:
            raise
        # A concurrent POST or PUT of the same id committed between the check above and this INSERT.
        raise ScheduleExists(f"schedulerId: '{scheduler_id}' already exists; use PUT to replace it") from None
    project(row)
    return row


# Ids a URL /jobs/schedule/{schedulerId} cannot reach: a collection route of the API (POST
# /jobs/schedule/preview; tests/scheduling/test_scheduler_id_routes.py keeps this in step with the
# routes) and the dot segments that clients and proxies normalise away.
RESERVED_SCHEDULER_IDS = frozenset({"preview", ".", ".."})


def _check_flow(owner: User, definition: ScheduleDefinition, flow: Any) -> None:
    """A schedule's ``flow`` (``None``: a plain schedule): ``flows.services.schedule_flow_check``."""
    if flow is not None:
        from flows.services import schedule_flow_check

        schedule_flow_check(
            owner=owner,
            name=definition.name,
            data=definition.data,
            options=definition.options,
            queue=None,
            flow=flow,
        )


def check_scheduler_id(scheduler_id: object) -> None:
    """Refuse a ``schedulerId`` that is not a non-empty string of at most 200 characters without
    ``/``, or is one of :data:`RESERVED_SCHEDULER_IDS` (code ``reserved``): ``DefinitionError`` keyed
    ``schedulerId``."""
    if (
        not isinstance(scheduler_id, str)
        or not scheduler_id.strip()
        or len(scheduler_id) > 200
        or "/" in scheduler_id
    ):
        raise DefinitionError(
            "schedulerId", "schedulerId: must be a non-empty string of at most 200 characters without '/'"
        )
    if scheduler_id in RESERVED_SCHEDULER_IDS:
        raise DefinitionError(
            "schedulerId",
            f"schedulerId: '{scheduler_id}' is reserved (it names a route or a URL path segment); "
            "choose another id",
            "reserved",
        )


def _ensure_fires(row: Schedule) -> None:
    if row.next_fire_at is None:
        raise DefinitionError(
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
    *,
    owner: User,
    scheduler_id: str,
    definition: ScheduleDefinition | None = None,
    **body: Unpack[ScheduleBody],
) -> tuple[Schedule, bool]:
    """Upsert by ``scheduler_id`` (BullMQ ``upsertJobScheduler``). Returns ``(schedule, created)``.

    ``definition`` or ``body`` as in :func:`schedule_create`; the id is checked first.

    A replaced schedule keeps its run count and history; when and whether its next fire moves is
    :func:`_redefine`'s rule. Two concurrent upserts of a new id create one schedule; the later one
    replaces it (BullMQ: "when 2 jobs with the same options are added ... creates only one job").
    """
    check_scheduler_id(scheduler_id)
    now = now_ms()
    definition = _definition(definition, body, now)
    mine = Schedule.objects.owned_by(owner).select_for_update().filter(scheduler_id=scheduler_id)
    existing = mine.first()
    if existing is None:
        try:
            return schedule_create(owner=owner, scheduler_id=scheduler_id, definition=definition), True
        except ScheduleExists:
            existing = mine.get()
    return _redefine(existing, definition, now), False


def _redefine(row: Schedule, definition: ScheduleDefinition, now: datetime) -> Schedule:
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
    _check_flow(row.owner, definition, row.flow if definition.flow is KEEP else definition.flow)
    fields = definition.model_fields()
    before = _cadence({key: getattr(row, key) for key in _CADENCE})
    start_changed = fields["start_at"] != row.start_at
    for key, value in fields.items():
        setattr(row, key, value)
    cadence_changed = _cadence(fields) != before
    if cadence_changed or start_changed or row.anchor_at is None:
        row.anchor_at = _anchor(row, now, restart=cadence_changed)
    if row.state == ScheduleState.ENDED and (row.limit is None or row.run_count < row.limit):
        row.state = ScheduleState.ACTIVE
    if row.state == ScheduleState.ACTIVE:
        row.next_fire_at = _next_fire_when_redefined(
            row, now, moved=cadence_changed or start_changed, immediately=definition.timing.immediately
        )
        if row.next_fire_at is None:
            if row.run_count == 0:
                _ensure_fires(row)
            row.state = ScheduleState.ENDED
    row.save()
    project(row)
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
    """The API's schedule object for a stored schedule (inverse of ``definition.timing_parse``)."""
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
def schedule_update(*, schedule: Schedule, changes: Mapping[str, object]) -> Schedule:
    """PATCH: apply any subset of ``{name, data, schedule, options}``; ``schedule`` keys merge over the
    stored definition (a new cron/repeat/at replaces the old kind). Same validation as create."""
    row = _locked(schedule)
    unknown = sorted(set(changes) - {"name", "data", "schedule", "options", "queue", "flow"})
    if unknown:
        raise DefinitionError(
            "non_field_errors",
            f"unknown field(s) {', '.join(unknown)}; allowed: name, data, schedule, options, queue, flow",
        )
    spec = spec_of(row)
    if "schedule" in changes:
        new = changes["schedule"]
        if not isinstance(new, dict):
            raise DefinitionError("schedule", "schedule: must be an object")
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
    now = now_ms()
    definition = definition_parse(
        name=changes.get("name", row.name),
        data=changes.get("data", row.data),
        schedule=spec,
        options=changes.get("options", row.options),
        queue=changes.get("queue", row.queue),
        flow=changes.get("flow", KEEP),
        now=now,
    )
    return _redefine(row, definition, now)


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
        project(row)
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
        project(row)
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


def preview_window(*, count: object, after: object) -> tuple[int, datetime, datetime]:
    """``(count, from, now)`` of a preview request: ``count`` (1..100, default 5) fire times strictly
    after ``from`` (an instant, :func:`parse_instant`; default now), and the instant (aware UTC) the
    previewed definition is checked at (the earlier of now and ``from``: ``at`` must be after it).
    Raises ``DefinitionError`` keyed ``count`` or ``from``."""
    now = now_ms()
    if count is None:
        count = 5
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PREVIEW:
        raise DefinitionError("count", f"count: must be an integer between 1 and {MAX_PREVIEW}")
    start_from = parse_instant(after, "from") or now
    return count, start_from, min(now, start_from)


def schedule_preview(*, schedule: ScheduleTiming, count: int, after: datetime) -> dict:
    """``{description, upcoming: [ISO UTC, ...]}``: the first ``count`` fire times strictly after
    ``after`` (aware UTC) for an unsaved schedule, as if it were saved at ``after``; the same code beat
    uses. With ``immediately`` (cron) the first entry is that instant: the run at once. The request's
    values come from :func:`preview_window`."""
    start_from = after
    row = Schedule(**schedule.model_fields())
    row.anchor_at = _anchor(row, start_from, restart=False)
    times = [start_from] if schedule.immediately else []
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


