"""Firing: turning schedules' fires into jobs (beat's leader and the ``schedules`` queue).

:func:`schedules_dispatch_due` (beat) advances every due schedule by one fire and inserts the fires'
jobs in the same transaction; :func:`schedules_fire` and :func:`schedule_fire` (the ``schedules``
queue) turn fire messages into jobs, idempotent per (schedule, fire time). Every new job row comes
from ``jobs.submission.job_build``. docs/runtime.md describes batches, claims and durability.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from config.logs import log_context
from config.serializers import iso_utc
from jobs import named_queues
from jobs.models import Job, JobState
from jobs.publishing import publish_batches
from jobs.realtime import publish_job_event, publish_schedule_event
from jobs.submission import PayloadTooLargeError, job_build, job_submit, stored_size, validate_job_input

from . import timing
from .models import Overlap, Schedule, ScheduleState
from .projection import projection_disable

logger = logging.getLogger(__name__)


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
    "queue",
    "flow",
)
# A run of a schedule not finished yet (``overlap: skip``); a flow's root waits in waiting-children.
_UNFINISHED = [JobState.WAITING, JobState.WAITING_CHILDREN, JobState.DELAYED, JobState.ACTIVE]


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
            fires.append([row.pk, iso_utc(fire_at)])
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
            projection_disable(ended)
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
        finished = (JobState.CANCELLED, SKIPPED_REASON) if row.pk in busy else None
        jobs.append(_fired_job(row, fire_at, merged, now, finished=finished))
    return jobs


SKIPPED_REASON = "skipped: the previous run of this schedule was still waiting or active"


def _fired_job(
    row: Schedule,
    fire_at: datetime | None,
    options: dict,
    now: datetime,
    *,
    finished: tuple[JobState, str] | None = None,
) -> Job:
    """The unsaved job of a fire of ``row`` (``jobs.submission.job_build``): the schedule's handler,
    data and queue."""
    return job_build(
        owner_id=row.owner_id, name=row.name, data=row.data, options=options, now=now, schedule=row,
        fire_at=fire_at, finished=finished,
    )


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
    with log_context(schedule_id=row.scheduler_id):  # the log field holds the string id, not the key
        return _fire(row, fire_at)


def _fire(row: Schedule, fire_at: datetime | None) -> Job | None:
    if fire_at is None:
        from .services import schedule_trigger  # a run now: the services' (which import this module)

        return schedule_trigger(schedule=row) if row.state != ScheduleState.ENDED else None
    if row.state == ScheduleState.PAUSED:  # paused after beat sent the fire: the pause wins
        return None
    if row.overlap == Overlap.SKIP:
        busy = row.jobs.filter(state__in=_UNFINISHED).exclude(
            fire_at=fire_at
        )
        if busy.exists():
            skipped = _fired_job(
                row, fire_at, row.options, timezone.now(), finished=(JobState.CANCELLED, SKIPPED_REASON)
            )
            _get_or_create_fired(skipped)
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
        publish_schedule_event(row, "fired", jobId=job.public_id, fireAt=iso_utc(fire_at))
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
        jobs.append(_fired_job(row, fire_at, merged, now))
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
    return job_build(
        owner_id=row.owner_id, name=row.name, data=None,
        options=row.options if isinstance(row.options, dict) else {}, now=now, schedule=row,
        fire_at=fire_at, finished=(JobState.FAILED, _fire_reason(exc)),
    )


def _get_or_create_fired(job: Job) -> tuple[Job, bool]:
    """Store the unsaved job of a fire unless that fire already has one (unique (schedule, fire time))."""
    fields = ("owner_id", "name", "queue", "data", "options", "state", "failed_reason", "finished_at")
    return Job.objects.get_or_create(
        schedule=job.schedule,
        scheduler_id=job.scheduler_id,
        fire_at=job.fire_at,
        defaults={f: getattr(job, f) for f in fields},
    )


def _fire_failed(schedule_id: int, fire_at: datetime, exc: Exception) -> Job | None:
    """Record the fire ``(schedule_id, fire_at)`` that raised ``exc`` as a ``failed`` job (idempotent
    per pair: an existing job of the fire is kept) and announce it; never raises."""
    logger.warning("fire of schedule %s at %s failed", schedule_id, fire_at, exc_info=exc)
    try:
        row = Schedule.objects.select_related("owner").filter(pk=schedule_id).first()
        if row is None:
            return None
        job, created = _get_or_create_fired(_failed_fire_job(row, fire_at, exc, timezone.now()))
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
                job.schedule,
                "fired",
                jobId=job.public_id,
                fireAt=iso_utc(job.fire_at),
                error=job.failed_reason,
            )
        else:
            publish_schedule_event(job.schedule, "fired", jobId=job.public_id, fireAt=iso_utc(job.fire_at))
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
