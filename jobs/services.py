"""Job services: every write to a ``Job`` goes through here (API, pages, admin, schedules, tasks).

Lifecycle (BullMQ's states plus ``cancelled``)::

    submit ──> waiting ──claim──> active ──> completed
      │  delay    ▲                 │ └────> failed      (attempts used up, UnrecoverableError, timeout)
      └─> delayed ┘ promoter        │ └────> cancelled   (ctx.check_cancelled() after a cancel request)
              ▲                     │
              └──── retry with backoff (attempts left; also when its worker was lost)

Guarantees: the row is written before its message is published (``transaction.on_commit``); a
worker claims a job with a conditional UPDATE (waiting → active), so duplicate or redelivered
messages do nothing; every later write of the attempt is conditional on (state active, attempt
number), so a worker that lost its job to the reconciler cannot overwrite the newer attempt.
Delays and backoffs never use the broker's eta/countdown (Redis would redeliver a message held
longer than its visibility timeout): the job stays ``delayed`` with ``run_at`` in the database and
beat's leader promotes it (:func:`jobs_promote_due`), which also runs the reconciler.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from contextlib import nullcontext
from datetime import timedelta
from decimal import Decimal
from typing import Any

import jsonschema
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F, Field, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from config.errors import StateError
from config.logs import bind_task_schedule
from config.metrics import observe_fire_lateness

from . import handlers, workers
from .attempts import with_attempt
from .models import Job, JobState
from .options import backoff_delay_ms, broker_priority, keep_rule, validate_options
from .realtime import publish_job_event

logger = logging.getLogger(__name__)


class PayloadTooLargeError(ValidationError):
    """``data`` is larger than ``JOB_MAX_DATA_BYTES`` (the API answers 413)."""


class JobCancelled(Exception):
    """Raised inside a handler by ``ctx.check_cancelled()`` when its job was cancelled."""


class UnrecoverableError(Exception):
    """Raise from a handler to fail the job at once, without the remaining attempts (BullMQ's name)."""


class JobStateConflict(StateError):
    """The job's state does not allow the action (cancel, retry, delete), or it was deleted meanwhile;
    the API answers 409."""


def _refresh(job: Job) -> None:
    """Re-read ``job``; a concurrent DELETE that removed it is a :class:`JobStateConflict`, not a 500."""
    try:
        job.refresh_from_db()
    except Job.DoesNotExist:
        raise JobStateConflict(f"job {job.pk} was deleted meanwhile") from None


def _as_stored(value: Any) -> Any:
    """``value`` as it reads back from a PostgreSQL ``jsonb`` column: numbers are stored as
    ``numeric``, which prints without an exponent, so a float written ``1e+99`` comes back as a
    100-digit integer (a float with a negative exponent or none prints as it went in)."""
    if isinstance(value, float) and "e+" in repr(value):
        return int(Decimal(repr(value)))
    if isinstance(value, list):
        return [_as_stored(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_stored(v) for k, v in value.items()}
    return value


def stored_size(data: Any) -> int:
    """Bytes of ``data`` as compact JSON in the form the database stores and returns it (issue 13).

    The limit ``JOB_MAX_DATA_BYTES`` applies to that form, not to the request's text: ``[1e99]``
    is 7 bytes in a request and 102 once stored in ``jsonb``, so data checked only as sent could
    pass at a schedule's creation and exceed the limit at every fire. SQLite stores the text as
    sent; the same (larger) measure applies there, so a value is accepted on both databases alike.
    """
    text = json.dumps(data, separators=(",", ":"))
    if "e+" in text:  # only an exponent can grow (a string holding "e+" merely costs a walk)
        text = json.dumps(_as_stored(data), separators=(",", ":"))
    return len(text.encode())


def validate_job_input(*, name: Any, data: Any, options: Any) -> dict:
    """Check a job's ``name``, ``data`` and ``options`` and return the merged options.

    Raises ``ValidationError`` naming the field (unknown handler lists the known names; ``data``
    is checked against the handler's JSON Schema) or :class:`PayloadTooLargeError`.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError({"name": ["name: required, the name of a registered handler"]})
    handler = handlers.get(name)
    if handler is None:
        raise ValidationError(
            {"name": [f"name: no handler named '{name}'; known handlers: {', '.join(handlers.names())}"]}
        )
    size = stored_size(data)
    if size > settings.JOB_MAX_DATA_BYTES:
        raise PayloadTooLargeError(
            {"data": [f"data: {size} bytes is larger than the limit of {settings.JOB_MAX_DATA_BYTES} bytes"]}
        )
    if handler.schema is not None:
        try:
            jsonschema.validate(data, handler.schema)
        except jsonschema.ValidationError as exc:
            where = "data" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
            raise ValidationError({"data": [f"{where}: {exc.message}"]}) from None
    return validate_options(options)


def job_submit(
    *,
    owner,
    name: str,
    data: Any,
    options: dict | None = None,
    schedule=None,
    fire_at=None,
) -> tuple[Job, bool]:
    """Create a job and publish it to queue ``jobs`` after commit.

    Returns ``(job, created)``. With ``options.jobId`` the same owner and key return the existing
    job and ``created=False`` (idempotent). ``delay`` (ms) makes the job ``delayed`` until due
    (then beat's promoter publishes it). Raises ``ValidationError`` / :class:`PayloadTooLargeError`
    for bad input; nothing is stored then.
    """
    merged = validate_job_input(name=name, data=data, options=options)
    key = str(merged["jobId"]) if "jobId" in merged else None
    if key is not None:
        existing = Job.objects.owned_by(owner).filter(idempotency_key=key).first()
        if existing is not None:
            return existing, False
    delay_ms = merged.get("delay", 0)
    now = timezone.now()
    job = Job(
        owner=owner,
        name=name,
        data=data,
        options=merged,
        priority=merged.get("priority", 0),
        idempotency_key=key,
        schedule=schedule,
        fire_at=fire_at,
        state=JobState.DELAYED if delay_ms else JobState.WAITING,
        run_at=now + timedelta(milliseconds=delay_ms) if delay_ms else None,
        enqueued_at=None if delay_ms else now,
    )
    try:
        # One INSERT is atomic by itself; a savepoint is needed only inside a caller's transaction,
        # so that a duplicate key does not break it. (Leaving out BEGIN/COMMIT in autocommit saves
        # two statements and shortens SQLite's write lock.)
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            job.save()
    except IntegrityError:
        # A concurrent submit with the same key, or a second delivery of the same schedule fire.
        if key is not None:
            return Job.objects.owned_by(owner).get(idempotency_key=key), False
        if schedule is not None and fire_at is not None:
            return Job.objects.get(schedule=schedule, fire_at=fire_at), False
        raise
    transaction.on_commit(lambda: job_enqueue(job))
    return job, True


def _publish(job: Job) -> None:
    """Send the job's ``run_job`` message with its broker priority and time limits.

    ``timeout`` (ms) becomes Celery's per-call soft time limit (``SoftTimeLimitExceeded`` is
    raised inside the handler); the hard limit follows ``JOB_TIMEOUT_GRACE_S`` later. Celery
    enforces time limits in its default prefork pool only (not ``-P solo``/``threads``).
    """
    from .tasks import run_job

    kwargs: dict[str, Any] = {"priority": broker_priority(job.priority)}
    timeout_ms = (job.options or {}).get("timeout")
    if timeout_ms:
        kwargs["soft_time_limit"] = timeout_ms / 1000
        kwargs["time_limit"] = timeout_ms / 1000 + settings.JOB_TIMEOUT_GRACE_S
    run_job.apply_async(args=[job.pk], **kwargs)


def job_enqueue(job: Job) -> None:
    """Publish a waiting job's message to queue ``jobs`` and announce it (call after commit).

    A broker error is logged, not raised: the row is stored and the reconciler publishes any
    waiting job whose message is older than ``JOB_REQUEUE_WAITING_AFTER_S``.
    """
    if job.state == JobState.WAITING:
        try:
            _publish(job)
        except Exception:
            logger.warning("could not publish job %s; the reconciler will publish it again", job.pk,
                           exc_info=True)
    publish_job_event(job, job.state)


# --- running a job ----------------------------------------------------------------------------------------


class _Heartbeat:
    """One daemon thread per worker process refreshing ``heartbeat_at`` of the jobs it runs.

    Also flushes their buffered deltas and log lines. Started lazily, so each prefork child gets
    its own thread after the fork. The thread closes its database connection after each beat so
    it never holds one between beats.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[int, JobContext]] = {}
        self._thread: threading.Thread | None = None

    def watch(self, job_id: int, attempt: int, ctx: JobContext) -> None:
        with self._lock:
            self._watched[job_id] = (attempt, ctx)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
                self._thread.start()

    def unwatch(self, job_id: int) -> None:
        with self._lock:
            self._watched.pop(job_id, None)

    def _run(self) -> None:
        while True:
            time.sleep(settings.JOB_HEARTBEAT_S)
            with self._lock:
                items = list(self._watched.items())
            if not items:
                continue
            try:
                for _job_id, (attempt, ctx) in items:
                    ctx.flush()
                    _attempt_qs(ctx.job, attempt).update(heartbeat_at=timezone.now())
            except Exception:
                logger.warning("job heartbeat failed", exc_info=True)
            finally:
                connection.close()


_heartbeat = _Heartbeat()


class JobContext:
    """What a handler gets besides its data: report progress, stream deltas, log, see cancellation.

    Deltas and log lines are published at once as events and stored in batches (at most every
    ``JOB_FLUSH_EVERY_S`` and when the job ends), so a chatty handler costs O(total output), not a
    rewrite of the whole column per call. Stored output is bounded by ``JOB_MAX_OUTPUT_BYTES`` and
    ``JOB_MAX_LOG_LINES``; events are not.
    """

    def __init__(self, job: Job):
        self.job = job
        if not isinstance(job.logs, list):
            job.logs = []
        self._lock = threading.Lock()
        self._pending_output: list[str] = []
        self._output_bytes = len((job.output or "").encode())
        self._logs_dirty = False
        self._dropped_lines = 0
        self._last_flush = time.monotonic()
        self._attempt = job.attempts_made

    def progress(self, value: Any) -> None:
        """Record progress: a number 0-100 or a JSON object; published as a ``progress`` event.

        Raises ``ValueError`` for anything else (the job then fails with that reason).
        """
        if isinstance(value, bool) or not (
            (isinstance(value, int | float) and 0 <= value <= 100) or isinstance(value, dict)
        ):
            raise ValueError(f"progress: must be a number 0-100 or a JSON object, not {value!r}"[:200])
        if isinstance(value, dict):
            json.dumps(value)
        Job.objects.filter(pk=self.job.pk).update(progress=value)
        self.job.progress = value
        publish_job_event(self.job, "progress", progress=value)

    def delta(self, text: str) -> None:
        """Append streamed partial output; published in order as ``delta`` events, stored in order."""
        text = str(text)
        with self._lock:
            size = len(text.encode())
            if self._output_bytes + size <= settings.JOB_MAX_OUTPUT_BYTES:
                self._pending_output.append(text)
                self._output_bytes += size
        publish_job_event(self.job, "delta", content=text)
        self._maybe_flush()

    def log(self, line: str) -> None:
        """Append a log line to the job (at most ``JOB_MAX_LOG_LINES`` are kept; later ones are counted)."""
        with self._lock:
            if len(self.job.logs) < settings.JOB_MAX_LOG_LINES:
                self.job.logs.append(str(line))
            else:
                self._dropped_lines += 1
            self._logs_dirty = True
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= settings.JOB_FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Store buffered deltas and log lines now (the worker calls it when the job ends)."""
        with self._lock:
            output = "".join(self._pending_output)
            self._pending_output.clear()
            logs = None
            if self._logs_dirty:
                logs = list(self.job.logs)
                if self._dropped_lines:
                    logs.append(f"... {self._dropped_lines} more line(s) not stored (JOB_MAX_LOG_LINES)")
                self._logs_dirty = False
            self._last_flush = time.monotonic()
        fields: dict[str, Any] = {}
        if output:
            fields["output"] = Concat(F("output"), Value(output))
        if logs is not None:
            fields["logs"] = logs
        if fields:
            Job.objects.filter(
                pk=self.job.pk, attempts_made=self._attempt, stalled_count=self.job.stalled_count
            ).update(**fields)

    @property
    def cancelled(self) -> bool:
        """Whether the owner asked to cancel this job (one indexed read)."""
        return Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if the job was cancelled; handlers call it between steps."""
        if self.cancelled:
            raise JobCancelled()


def _attempt_qs(job: Job, attempt: int):
    """The row as long as this attempt still owns it (not taken over by the reconciler, not retried).

    A stalled job keeps its attempt number for its next run (:func:`_stall`), so the run is told
    apart by ``stalled_count`` too: a worker thought dead that comes back cannot touch the new run.
    """
    return Job.objects.filter(
        pk=job.pk, state=JobState.ACTIVE, attempts_made=attempt, stalled_count=job.stalled_count
    )


def _claim(job_id: int, now) -> Job | None:
    """waiting → active in one statement that also returns the row (``UPDATE ... RETURNING``, which
    PostgreSQL and SQLite >= 3.35 both have): the claim is atomic and the worker needs no SELECT.
    The row comes with its schedule's ``schedulerId`` (``Job.scheduler_id``) for the job's events."""
    from scheduling.models import Schedule

    table, schedules = Job._meta.db_table, Schedule._meta.db_table
    sql = (
        f"UPDATE {table} SET state = %s, started_at = %s, heartbeat_at = %s, worker = %s, "
        "attempts_made = attempts_made + 1, progress = %s, output = '', finished_at = NULL "
        f"WHERE id = %s AND state = %s RETURNING *, (SELECT s.scheduler_id FROM {schedules} s "
        f"WHERE s.id = {table}.schedule_id) AS _scheduler_id"
    )
    stamp = Job._meta.get_field("started_at").get_db_prep_value(now, connection)
    progress = Job._meta.get_field("progress").get_db_prep_value(0, connection)
    params = [JobState.ACTIVE, stamp, stamp, workers.identity(), progress, job_id, JobState.WAITING]
    rows = list(Job.objects.raw(sql, params))
    return rows[0] if rows else None


def _complete(
    job_id: int, attempt: int, stalled_count: int, result: Any, progress: Any, finished,
    history: list | None = None,
) -> bool:
    """active → completed if attempt ``attempt`` still owns the row (as :func:`_attempt_qs`); one
    statement written once, as the claim, since the ORM's per-call query building was a fifth of a
    short job's cost in the worker. ``history`` is the new ``attempt_history`` (:mod:`jobs.attempts`).
    A completed job shows no failure: the reason and stack trace of an earlier attempt (a handler
    error, a lost worker) are cleared; its attempt history keeps them. Returns whether the row was
    updated."""
    def prep(name: str, value: Any) -> Any:
        field = Job._meta.get_field(name)
        assert isinstance(field, Field)  # a concrete column, not a relation's reverse side
        return field.get_db_prep_save(value, connection)

    sql = (
        f"UPDATE {Job._meta.db_table} SET state = %s, result = %s, progress = %s, finished_at = %s, "
        "attempt_history = %s, heartbeat_at = NULL, failed_reason = '', stacktrace = '' "
        "WHERE id = %s AND state = %s AND attempts_made = %s AND stalled_count = %s"
    )
    params = [
        JobState.COMPLETED, prep("result", result), prep("progress", progress), prep("finished_at", finished),
        prep("attempt_history", history or []), job_id, JobState.ACTIVE, attempt, stalled_count,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


def job_execute(*, job_id: int) -> Job | None:
    """Run a waiting job once: claim it (waiting → active), call its handler, store the outcome.

    Idempotent: a job that is not ``waiting`` (already run, running elsewhere, cancelled, delayed)
    is left alone and ``None`` is returned. Outcomes: ``completed`` with the result; on an error,
    another attempt (``waiting`` or ``delayed`` per ``backoff``) while ``attempts`` remain, else
    ``failed`` with the reason and stack trace; ``cancelled`` when the handler saw a cancel request;
    a timeout fails the attempt with ``timeout: exceeded N ms``.
    """
    job = _claim(job_id, timezone.now())
    if job is None:
        return None
    attempt = job.attempts_made
    bind_task_schedule(job.scheduler_id)
    if attempt == 1 and job.fire_at is not None:
        _observe_fire_lateness(job)
    publish_job_event(job, "active", attemptsMade=attempt)
    handler = handlers.get(job.name)
    ctx = JobContext(job)
    _heartbeat.watch(job.pk, attempt, ctx)
    try:
        try:
            if handler is None:
                raise UnrecoverableError(f"no handler named '{job.name}'")
            result = handler.fn(job.data, ctx)
            json.dumps(result)
        finally:
            _heartbeat.unwatch(job.pk)
            ctx.flush()
    except JobCancelled:
        return _finish_cancelled(job, attempt, "cancelled: while active")
    except SoftTimeLimitExceeded:
        reason = f"timeout: exceeded {job.options.get('timeout')} ms"
        return _fail_or_retry(job, attempt, reason, traceback.format_exc())
    except UnrecoverableError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        return _fail_or_retry(job, attempt, reason, traceback.format_exc(), retry=False)
    except Exception as exc:  # any handler error is the job's failure, not the worker's
        return _fail_or_retry(job, attempt, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    progress = 100 if job.progress in (0, None) else job.progress
    finished = timezone.now()
    history = with_attempt(job, attempt=attempt, finished_at=finished, outcome=JobState.COMPLETED)
    if not _complete(job.pk, attempt, job.stalled_count, result, progress, finished, history):
        return None  # the reconciler took the job over meanwhile; its decision stands
    job.state, job.result, job.progress, job.finished_at = JobState.COMPLETED, result, progress, finished
    job.failed_reason = job.stacktrace = ""
    job.attempt_history = history
    publish_job_event(job, "completed", result=result)
    _prune(job, job.options.get("removeOnComplete"))
    return job


def _enqueue_each(jobs: list[Job]) -> None:
    for job in jobs:
        job_enqueue(job)


def _observe_fire_lateness(job: Job) -> None:
    """Count a scheduled job's first start against its fire time in /metrics (never raises)."""
    if job.started_at is None or job.fire_at is None:
        return
    try:
        observe_fire_lateness(job_id=job.pk, seconds=(job.started_at - job.fire_at).total_seconds())
    except Exception:
        logger.warning("could not record fire lateness of job %s", job.pk, exc_info=True)


def _finish_cancelled(job: Job, attempt: int, reason: str) -> Job | None:
    finished = timezone.now()
    history = with_attempt(
        job, attempt=attempt, finished_at=finished, outcome=JobState.CANCELLED, reason=reason
    )
    if not _attempt_qs(job, attempt).update(
        state=JobState.CANCELLED, failed_reason=reason, finished_at=finished, heartbeat_at=None,
        attempt_history=history,
    ):
        return None
    job.state, job.failed_reason, job.finished_at = JobState.CANCELLED, reason, finished
    job.attempt_history = history
    publish_job_event(job, "cancelled")
    return job


def _fail_or_retry(
    job: Job, attempt: int, reason: str, stacktrace: str, *, retry: bool = True, extra: Q | None = None
) -> Job | None:
    """End attempt ``attempt`` as failed: schedule the next attempt per ``attempts``/``backoff``, or fail.

    Conditional on the attempt still owning the row (and on ``extra``), so two deciders never both win.
    Returns the job in its new state, or ``None`` if another decider got there first.
    """
    now = timezone.now()
    attempts = int(job.options.get("attempts", 1) or 1)
    history = with_attempt(job, attempt=attempt, finished_at=now, outcome=JobState.FAILED, reason=reason)
    qs = _attempt_qs(job, attempt)
    if extra is not None:
        qs = qs.filter(extra)
    if retry and attempt < attempts:
        delay_ms = backoff_delay_ms(job.options.get("backoff"), attempt)
        state = JobState.DELAYED if delay_ms else JobState.WAITING
        fields = {
            "state": state, "failed_reason": reason, "stacktrace": stacktrace, "heartbeat_at": None,
            "run_at": now + timedelta(milliseconds=delay_ms) if delay_ms else None,
            "enqueued_at": None if delay_ms else now, "attempt_history": history,
        }
        with transaction.atomic():
            if not qs.update(**fields):
                return None
            for key, value in fields.items():
                setattr(job, key, value)
            if state == JobState.WAITING:
                transaction.on_commit(lambda: job_enqueue(job))
            else:
                transaction.on_commit(
                    lambda: publish_job_event(job, state, error=reason, attemptsMade=attempt)
                )
        return job
    if not qs.update(
        state=JobState.FAILED, failed_reason=reason, stacktrace=stacktrace, finished_at=now,
        heartbeat_at=None, attempt_history=history,
    ):
        return None
    job.state, job.failed_reason, job.stacktrace, job.finished_at = JobState.FAILED, reason, stacktrace, now
    job.attempt_history = history
    publish_job_event(job, "failed", error=reason)
    _prune(job, job.options.get("removeOnFail"))
    return job


def _prune(job: Job, rule: Any) -> None:
    """Apply ``removeOnComplete``/``removeOnFail`` after ``job`` finished in its state.

    Scope: the owner's finished jobs of the same handler name and state (BullMQ scopes it to the
    queue). Uses the ``(owner, name, state, finished_at)`` index; each call deletes at most one
    batch, reading at most ``count + batch`` index entries, never every job.
    """
    remove_now, count, age = keep_rule(rule)
    if remove_now:
        Job.objects.filter(pk=job.pk).delete()
        return
    if count is None and age is None:
        return
    batch = settings.JOB_MAINTENANCE_BATCH_SIZE
    scope = Job.objects.filter(owner_id=job.owner_id, name=job.name, state=job.state)
    doomed: list[int] = []
    if age is not None:
        cutoff = timezone.now() - timedelta(seconds=age)
        old = scope.filter(finished_at__lt=cutoff).order_by("finished_at")
        doomed += old.values_list("pk", flat=True)[:batch]
    if count is not None:
        doomed += scope.order_by("-finished_at", "-pk").values_list("pk", flat=True)[count : count + batch]
    if doomed:
        Job.objects.filter(pk__in=set(doomed)).delete()


# --- owner actions ----------------------------------------------------------------------------------------


def job_cancel(*, job: Job) -> Job:
    """Cancel ``job``. Waiting/delayed: it becomes ``cancelled`` at once and never runs (its message,
    if any, finds it not waiting). Active: ``cancel_requested`` is set; the handler's next
    ``ctx.check_cancelled()`` raises and the job ends ``cancelled`` (a handler that never checks
    finishes normally). Raises :class:`JobStateConflict` for a finished job.
    """
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, state__in=[JobState.WAITING, JobState.DELAYED]).update(
        state=JobState.CANCELLED, cancel_requested=True, failed_reason="cancelled: before it ran",
        finished_at=now,
    ):
        _refresh(job)
        publish_job_event(job, "cancelled")
        return job
    if Job.objects.filter(pk=job.pk, state=JobState.ACTIVE).update(cancel_requested=True):
        _refresh(job)
        return job
    _refresh(job)
    raise JobStateConflict(
        f"job {job.pk} is {job.state}; only waiting, delayed or active jobs can be cancelled"
    )


def job_retry(*, job: Job) -> Job:
    """Run a ``failed`` or ``cancelled`` job again: back to ``waiting``, outcome fields cleared.

    ``attemptsMade`` keeps counting (BullMQ's ``job.retry()``), so this grants one more run plus
    whatever ``attempts`` remain. Raises :class:`JobStateConflict` in any other state.
    """
    now = timezone.now()
    with transaction.atomic():
        if not Job.objects.filter(pk=job.pk, state__in=[JobState.FAILED, JobState.CANCELLED]).update(
            state=JobState.WAITING, enqueued_at=now, run_at=None, started_at=None, finished_at=None,
            heartbeat_at=None, failed_reason="", stacktrace="", result=None, progress=0, output="",
            cancel_requested=False,
        ):
            _refresh(job)
            raise JobStateConflict(
                f"job {job.pk} is {job.state}; only failed or cancelled jobs can be retried"
            )
        _refresh(job)
        transaction.on_commit(lambda: job_enqueue(job))
    return job


def job_promote(*, job: Job) -> Job:
    """Run a ``delayed`` job now (BullMQ's ``job.promote()``): ``delayed`` → ``waiting``, published
    after commit.

    One conditional UPDATE, so a promotion racing beat's promoter or a cancel moves the job once.
    Works for a first run held by ``delay`` and for a retry waiting out its backoff alike. Raises
    :class:`JobStateConflict` in any other state.
    """
    now = timezone.now()
    with transaction.atomic():
        if not Job.objects.filter(pk=job.pk, state=JobState.DELAYED).update(
            state=JobState.WAITING, run_at=None, enqueued_at=now
        ):
            job.refresh_from_db()
            raise JobStateConflict(f"job {job.pk} is {job.state}; only delayed jobs can be promoted")
        job.refresh_from_db()
        transaction.on_commit(lambda: job_enqueue(job))
    return job


def job_delete(*, job: Job) -> None:
    """Delete any job that is not ``active`` (BullMQ's rule: ``job.remove()`` fails on a locked job).

    A waiting job's message then finds no row and does nothing; a delayed one is never promoted.
    Raises :class:`JobStateConflict` for an active job (cancel it first).
    """
    deleted, _ = Job.objects.filter(pk=job.pk).exclude(state=JobState.ACTIVE).delete()
    if not deleted:
        _refresh(job)
        raise JobStateConflict(
            f"job {job.pk} is active; an active job cannot be deleted (BullMQ's rule): cancel it first"
        )


# --- beat's hook: promotion of due jobs and reconciliation ------------------------------------------------

_last_reconcile = 0.0


def jobs_promote_due(*, now=None, cap: float = 1.0) -> float:
    """Beat's leader calls this every tick: publish due delayed jobs, reconcile now and then.

    Moves ``delayed`` jobs whose ``run_at`` has passed to ``waiting`` (conditional UPDATE, then
    publish after commit), runs :func:`jobs_reconcile` every ``JOB_RECONCILE_EVERY_S``, and returns
    the seconds until the next delayed job is due (at most ``cap``) so beat can sleep that long.
    Never raises: a failure is logged and retried on the next tick.
    """
    global _last_reconcile
    try:
        now = now or timezone.now()
        batch = settings.JOB_MAINTENANCE_BATCH_SIZE
        while _promote_batch(now, batch) >= batch:
            pass
        if time.monotonic() - _last_reconcile >= settings.JOB_RECONCILE_EVERY_S:
            _last_reconcile = time.monotonic()
            jobs_reconcile(now=now)
        nxt = (
            Job.objects.filter(state=JobState.DELAYED, run_at__isnull=False)
            .order_by("run_at")
            .values_list("run_at", flat=True)
            .first()
        )
        if nxt is None:
            return cap
        return max(0.0, min(cap, (nxt - timezone.now()).total_seconds()))
    except Exception:
        logger.exception("promoting or reconciling jobs failed; retrying next tick")
        close_old_connections()
        return cap


def _promote_batch(now, batch: int) -> int:
    with transaction.atomic():
        qs = (
            Job.objects.filter(state=JobState.DELAYED, run_at__lte=now)
            .order_by("run_at")
            .select_related("schedule")
        )
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        due = list(qs[:batch])
        if not due:
            return 0
        moved = Job.objects.filter(pk__in=[j.pk for j in due], state=JobState.DELAYED).update(
            state=JobState.WAITING, enqueued_at=now
        )
        for job in due:
            job.state, job.enqueued_at = JobState.WAITING, now
        transaction.on_commit(lambda: _enqueue_each(due))
    return moved


STALLED_REASON = "job stalled more than allowable limit"  # BullMQ's words (moveStalledJobsToWait)


def jobs_reconcile(*, now=None) -> dict:
    """Repair what a lost message or a dead worker left behind. Safe to run any time, twice.

    - Dead workers (``jobs.workers``: no heartbeat for ``JOB_WORKER_DEAD_AFTER_S``): the ``waiting``
      jobs whose messages they had received are published again, and their ``active`` jobs are
      handed back by :func:`_lost`; then the worker is forgotten.
    - ``active`` jobs whose own heartbeat is older than ``JOB_STALE_AFTER_S`` (a pool process killed
      alone, or a worker the registry missed) are handed back by :func:`_lost` too.
    - ``waiting`` jobs published more than ``JOB_REQUEUE_WAITING_AFTER_S`` ago are published again
      (their message may be gone, e.g. Redis restarted empty; a duplicate is a no-op at claim).
    Returns ``{"requeued": n, "stale": m}`` (``stale``: active jobs handed back or ended).
    """
    now = now or timezone.now()
    batch = settings.JOB_MAINTENANCE_BATCH_SIZE
    requeued, stale = _reconcile_dead_workers(now)
    cutoff = now - timedelta(seconds=settings.JOB_REQUEUE_WAITING_AFTER_S)
    lost = (
        Job.objects.filter(state=JobState.WAITING)
        .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, created_at__lt=cutoff))
        .order_by("enqueued_at")
    )
    for job in lost[:batch]:
        if Job.objects.filter(pk=job.pk, state=JobState.WAITING, enqueued_at=job.enqueued_at).update(
            enqueued_at=now
        ):
            requeued += _publish_again(job)
    if requeued:
        logger.info("reconciler published %d waiting job(s) again", requeued)
    stale_cutoff = now - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    for job in Job.objects.filter(state=JobState.ACTIVE, heartbeat_at__lt=stale_cutoff).select_related(
        "schedule"
    )[:batch]:
        age = (now - job.heartbeat_at).total_seconds()
        stale += _lost(job, now, Q(heartbeat_at=job.heartbeat_at), f"no heartbeat for {age:.0f} s")
    if stale:
        logger.info("reconciler handed back %d active job(s) whose worker was lost", stale)
    return {"requeued": requeued, "stale": stale}


def _publish_again(job: Job) -> int:
    try:
        _publish(job)
        return 1
    except Exception:
        logger.warning("could not publish job %s again", job.pk, exc_info=True)
        return 0


def _reconcile_dead_workers(now) -> tuple[int, int]:
    """Hand back the jobs of every dead worker; returns (waiting jobs published again, active jobs
    handed back). A Redis error skips this pass (the database's heartbeat still catches them)."""
    requeued = stale = 0
    try:
        dead = workers.dead_workers()
    except Exception:
        logger.warning("could not read the worker registry", exc_info=True)
        return 0, 0
    for worker in dead:
        held = workers.held_jobs(worker)
        for start in range(0, len(held), settings.JOB_MAINTENANCE_BATCH_SIZE):
            chunk = held[start : start + settings.JOB_MAINTENANCE_BATCH_SIZE]
            for job in Job.objects.filter(pk__in=chunk, state=JobState.WAITING):
                if Job.objects.filter(pk=job.pk, state=JobState.WAITING).update(enqueued_at=now):
                    requeued += _publish_again(job)
        for job in Job.objects.filter(state=JobState.ACTIVE, worker=worker).select_related("schedule"):
            stale += _lost(job, now, Q(worker=worker), f"its worker {worker} died")
        workers.forget(worker)
        logger.warning("worker %s died; %d held job(s) handed back", worker, len(held))
    return requeued, stale


def _lost(job: Job, now, same_holder: Q, why: str) -> int:
    """An active job whose worker is gone: ``cancelled`` if a cancel was requested, a failed attempt
    if it ran past its ``timeout``, else the stalled-job rule (:func:`_stall`). Conditional on
    ``same_holder`` (and the attempt), so a worker that is alive after all keeps the job. Returns 1 if
    this call decided the job's fate, else 0."""
    if job.cancel_requested:
        reason = "cancelled: its worker was lost"
        history = with_attempt(
            job, attempt=job.attempts_made, finished_at=now, outcome=JobState.CANCELLED, reason=reason
        )
        if _attempt_qs(job, job.attempts_made).filter(same_holder).update(
            state=JobState.CANCELLED, failed_reason=reason, finished_at=now, heartbeat_at=None,
            attempt_history=history,
        ):
            job.state = JobState.CANCELLED
            publish_job_event(job, "cancelled")
            return 1
        return 0
    timeout_ms = job.options.get("timeout")
    if timeout_ms and job.started_at and now - job.started_at >= timedelta(milliseconds=timeout_ms):
        reason = f"timeout: exceeded {timeout_ms} ms"
        return int(_fail_or_retry(job, job.attempts_made, reason, "", extra=same_holder) is not None)
    return int(_stall(job, now, same_holder, why))


def _stall(job: Job, now, same_holder: Q, why: str) -> bool:
    """BullMQ's stalled-job rule: a job whose worker died goes back to ``waiting`` without spending an
    attempt (its next run keeps the attempt number; ``stalled_count`` goes up), at most
    ``JOB_MAX_STALLED`` times (BullMQ's ``maxStalledCount``, default 1); past that it fails for good
    with BullMQ's reason ``job stalled more than allowable limit``. The attempt history records the
    stalled run (outcome ``stalled``)."""
    attempt = job.attempts_made
    if job.stalled_count >= settings.JOB_MAX_STALLED:
        reason = f"{STALLED_REASON} ({job.stalled_count + 1} stalls, limit {settings.JOB_MAX_STALLED}; {why})"
        return _fail_or_retry(job, attempt, reason, "", retry=False, extra=same_holder) is not None
    history = with_attempt(job, attempt=attempt, finished_at=now, outcome="stalled", reason=f"stalled: {why}")
    fields = {
        "state": JobState.WAITING, "attempts_made": attempt - 1, "stalled_count": job.stalled_count + 1,
        "enqueued_at": now, "heartbeat_at": None, "worker": "", "attempt_history": history,
    }
    with transaction.atomic():
        if not _attempt_qs(job, attempt).filter(same_holder).update(**fields):
            return False
        for key, value in fields.items():
            setattr(job, key, value)
        transaction.on_commit(lambda: job_enqueue(job))
    return True
