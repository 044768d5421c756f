"""The job runtime: claiming, running and finishing jobs, one (``run_job``) or a batch (``run_jobs``).

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

Batches (issue 14):

Wherever many jobs become runnable at once (schedule fires, ``POST /jobs/submit/bulk``, delayed jobs
and retries promoted together, the reconciler's re-publishes) they are published as ``run_jobs``
messages of up to ``JOB_BATCH_SIZE`` job ids (:func:`publish_batches`), one per broker priority step.
A single ``POST /jobs/submit`` stays one ``run_job`` message (lowest latency for one job).

A pool process running a batch (:func:`jobs_execute_batch`):

1. claims every job of the message in ONE statement (``UPDATE ... WHERE id IN (...) AND state =
   'waiting' RETURNING ...``): a job cancelled, deleted or run elsewhere meanwhile is simply not
   returned;
2. runs them one after the other, lowest ``priority`` first, each with its own ``timeout``
   (``SIGALRM`` through ``signal.setitimer``: Celery's time limits are per message);
3. writes the completed ones with one statement per flush (``UPDATE ... FROM (VALUES ...)``), at the
   latest every ``JOB_BATCH_FLUSH_S`` and at the end, then publishes their events; a failure, retry
   or cancel is written at once by the same code as a single job's;
4. hands its unstarted jobs back once the batch has run ``JOB_BATCH_SLICE_S`` (a timer thread: they
   go back to ``waiting`` and out as a new message for other processes), so a slow handler never
   holds back the jobs queued behind it.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import traceback
from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Q
from django.utils import timezone

from config.logs import bind_log_context
from config.metrics import observe_fire_lateness

from . import handlers, queue_control, workers
from .attempts import with_attempt
from .dependencies import children_settled, final_write
from .handlers.context import JobContext
from .handlers.exceptions import JobCancelled, UnrecoverableError
from .limiter import limiter_give_back, limiter_started, limiter_take
from .models import Job, JobQueue, JobState
from .options import backoff_delay_ms, keep_rule
from .publishing import chunked, job_enqueue, publish_batches
from .realtime import publish_job_event

logger = logging.getLogger(__name__)


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


def _attempt_qs(job: Job, attempt: int):
    """The row as long as this attempt still owns it (not taken over by the reconciler, not retried).

    A stalled job keeps its attempt number for its next run (:func:`_stall`), so the run is told
    apart by ``stalled_count`` too: a worker thought dead that comes back cannot touch the new run.
    """
    return Job.objects.filter(
        pk=job.pk, state=JobState.ACTIVE, attempts_made=attempt, stalled_count=job.stalled_count
    )


# A job of a paused queue is never claimed (docs/queues.md): checked inside each claim statement, so a
# pause that has committed holds back every claim after it, with no cache between them. One parameter:
# True (the paused flag).
_NOT_PAUSED = (
    f"NOT EXISTS (SELECT 1 FROM {JobQueue._meta.db_table} q "
    f"WHERE q.name = {Job._meta.db_table}.queue AND q.paused = %s)"
)


def _claim(job_id: int, now) -> Job | None:
    """waiting → active in one statement that also returns the row (``UPDATE ... RETURNING``, which
    PostgreSQL and SQLite >= 3.35 both have): the claim is atomic and the worker needs no SELECT.
    A job of a paused queue is not claimed.
    The row carries its schedule's ``schedulerId`` (``Job.scheduler_id``) for the job's events."""
    sql = (
        f"UPDATE {Job._meta.db_table} SET state = %s, started_at = %s, heartbeat_at = %s, worker = %s, "
        "attempts_made = attempts_made + 1, progress = %s, output = '', finished_at = NULL "
        f"WHERE id = %s AND state = %s AND {_NOT_PAUSED} RETURNING *"
    )
    stamp = Job._meta.get_field("started_at").get_db_prep_value(now, connection)
    progress = Job._meta.get_field("progress").get_db_prep_value(0, connection)
    params = [JobState.ACTIVE, stamp, stamp, workers.identity(), progress, job_id, JobState.WAITING, True]
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


def job_execute(*, job_id: int, queue: str | None = None) -> Job | None:
    """Run a waiting job once: claim it (waiting → active), call its handler, store the outcome.

    Idempotent: a job that is not ``waiting`` (already run, running elsewhere, cancelled, delayed)
    is left alone and ``None`` is returned. Outcomes: ``completed`` with the result; on an error,
    another attempt (``waiting`` or ``delayed`` per ``backoff``) while ``attempts`` remain, else
    ``failed`` with the reason and stack trace; ``cancelled`` when the handler saw a cancel request;
    a timeout fails the attempt with ``timeout: exceeded N ms``.

    ``queue`` (the message's job queue): with a rate limit (``jobs.limiter``) the job takes a start slot
    first; without one it stays waiting and is published again for when the window frees.
    """
    limit = queue_control.limiter_of(queue)
    grant = None
    if limit is not None and queue is not None:
        grant = limiter_take(queue=queue, limit_max=limit[0], duration_ms=limit[1], want=1)
        if not grant.granted:
            _defer([job_id], queue, grant.wait_ms)
            return None
    now = timezone.now()
    job = _claim(job_id, now)
    if grant is not None:
        if job is None:
            limiter_give_back(grant=grant, slots=[1])
        else:
            limiter_started(grant=grant, slot=1, started_at=now)  # the claim's started_at
    if job is None:
        return None
    outcome = job_run_claimed(job)
    if not isinstance(outcome, Completion):
        return outcome
    if not final_write(job, JobState.COMPLETED, lambda: _complete(
        job.pk, outcome.attempt, job.stalled_count, outcome.result, outcome.progress, outcome.finished_at,
        outcome.history,
    )):
        return None  # the reconciler took the job over meanwhile; its decision stands
    _completed(job, outcome)
    return job


@dataclass(frozen=True)
class Completion:
    """A handler's success, not yet written: the caller stores it (:func:`_complete` for one job,
    :func:`jobs_complete_many` for a batch), then calls :func:`_completed`."""

    attempt: int
    result: Any
    progress: Any
    started_at: Any
    finished_at: Any
    history: list


def job_run_claimed(job: Job) -> Completion | Job | None:
    """Call the handler of a job this process claimed (state ``active``) and settle any failure.

    Returns a :class:`Completion` when the handler succeeded (the caller writes it); after a
    failure, cancel or timeout, the job in its new state as written by :func:`_fail_or_retry` /
    :func:`_finish_cancelled`, or ``None`` when the reconciler had taken the job over meanwhile.
    Publishes ``active`` first (with ``attemptsMade``).
    """
    attempt = job.attempts_made
    bind_log_context(job_id=job.pk, schedule_id=job.scheduler_id)
    if attempt == 1 and job.fire_at is not None and job.stalled_count == 0:
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
    return Completion(attempt, result, progress, job.started_at, finished, history)


def _completed(job: Job, done: Completion) -> None:
    """After ``done`` was stored: the job object, its ``completed`` event and ``removeOnComplete``."""
    job.state, job.result, job.progress, job.finished_at = (
        JobState.COMPLETED, done.result, done.progress, done.finished_at,
    )
    job.failed_reason = job.stacktrace = ""
    job.attempt_history = done.history
    publish_job_event(job, "completed", result=done.result)
    _prune(job, job.options.get("removeOnComplete"))


def jobs_complete_many(done: list[tuple[Job, Completion]]) -> int:
    """Store the completions of a batch: active → completed with one statement per
    ``JOB_BATCH_SIZE`` jobs (``UPDATE ... FROM`` the values), each conditional on its
    run still owning the row (as :func:`_attempt_qs`); then each stored job's events and
    ``removeOnComplete``. Also stores each job's own start (``started_at``: a batch claims its jobs
    together, each starts when its turn comes). PostgreSQL reads the values as one array per column
    (``unnest``), SQLite as a ``VALUES`` list. Returns the number stored."""
    table = Job._meta.db_table
    fields = {f: Job._meta.get_field(f) for f in ("result", "progress", "started_at", "attempt_history")}
    assert all(isinstance(field, Field) for field in fields.values())  # concrete columns

    def prep(name: str, value: Any) -> Any:
        return fields[name].get_db_prep_save(value, connection)  # type: ignore[union-attr]  # asserted above

    columns = "(id, attempt, stalled, result, progress, started_at, finished_at, history)"
    update = (
        "{with}" f"UPDATE {table} SET state = %s, result = v.result, progress = v.progress, "
        "started_at = v.started_at, finished_at = v.finished_at, attempt_history = v.history, "
        "heartbeat_at = NULL, failed_reason = '', stacktrace = '' FROM {source} "
        f"WHERE {table}.id = v.id AND {table}.state = %s AND {table}.attempts_made = v.attempt "
        f"AND {table}.stalled_count = v.stalled RETURNING {table}.id"
    )
    stored = 0
    for chunk in chunked(done, settings.JOB_BATCH_SIZE):
        rows = [
            [
                job.pk, c.attempt, job.stalled_count, prep("result", c.result), prep("progress", c.progress),
                prep("started_at", c.started_at), prep("started_at", c.finished_at),
                prep("attempt_history", c.history),
            ]
            for job, c in chunk
        ]
        if connection.vendor == "postgresql":
            # One array per column: the statement's text is the same for every batch, so neither
            # psycopg nor the server parses a new 800-parameter statement each time (a profile of a
            # worker found that parsing to be a third of a batch's completion cost).
            source = (
                "unnest(%s::bigint[], %s::integer[], %s::integer[], %s::jsonb[], %s::jsonb[], "
                f"%s::timestamptz[], %s::timestamptz[], %s::jsonb[]) AS v {columns}"
            )
            params: list[Any] = [list(column) for column in zip(*rows, strict=True)]
            sql = update.replace("{with}", "").replace("{source}", source)
            params = [JobState.COMPLETED, *params, JobState.ACTIVE]
        else:
            marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
            sql = update.replace("{with}", f"WITH v {columns} AS (VALUES {marks}) ").replace("{source}", "v")
            params = [*(value for row in rows for value in row), JobState.COMPLETED, JobState.ACTIVE]
        # A child of a flow is counted off its parent in the transaction of its completion
        # (jobs.dependencies); a batch without children needs no transaction.
        parented = [job for job, _ in chunk if job.parent_id is not None]
        with transaction.atomic() if parented else nullcontext():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                ids = {r[0] for r in cursor.fetchall()}
            if parented:
                for job in parented:
                    if job.pk in ids:
                        job.state = JobState.COMPLETED
                children_settled([job for job in parented if job.pk in ids])
        for job, c in chunk:
            if job.pk in ids:
                job.started_at = c.started_at
                _completed(job, c)
        stored += len(ids)
    return stored


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
    if not final_write(job, JobState.CANCELLED, lambda: _attempt_qs(job, attempt).update(
        state=JobState.CANCELLED, failed_reason=reason, finished_at=finished, heartbeat_at=None,
        attempt_history=history, started_at=job.started_at,
    )):
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
            "started_at": job.started_at,
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
    if not final_write(job, JobState.FAILED, lambda: qs.update(
        state=JobState.FAILED, failed_reason=reason, stacktrace=stacktrace, finished_at=now,
        started_at=job.started_at,
        heartbeat_at=None, attempt_history=history,
    )):
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


def _claim_many(job_ids: list[int], now, *, limit: int | None = None) -> list[Job]:
    """waiting → active for every job of ``job_ids`` still waiting (not in a paused queue), in one
    statement per ``JOB_BATCH_SIZE`` ids (``RETURNING``: no SELECT). ``started_at`` stays NULL until the
    job's turn comes (it is written with the job's outcome), so the reconciler can tell a job whose
    handler never ran from one that was running when its worker died (:func:`jobs.maintenance._stall`).

    ``limit``: claim at most that many (a rate-limited queue's granted slots), lowest ``priority``
    first, then oldest."""
    table = Job._meta.db_table
    stamp = Job._meta.get_field("started_at").get_db_prep_value(now, connection)
    progress = Job._meta.get_field("progress").get_db_prep_value(0, connection)
    claimed: list[Job] = []
    for chunk in chunked(sorted(set(job_ids)), settings.JOB_BATCH_SIZE):
        if limit is not None and len(claimed) >= limit:
            break
        if connection.vendor == "postgresql":  # one array parameter: the same statement text each time
            where, ids = "id = ANY(%s::bigint[])", [chunk]
        else:
            where, ids = f"id IN ({', '.join(['%s'] * len(chunk))})", chunk
        head = (
            f"UPDATE {table} SET state = %s, started_at = NULL, heartbeat_at = %s, worker = %s, "
            "attempts_made = attempts_made + 1, progress = %s, output = '', finished_at = NULL "
        )
        params = [JobState.ACTIVE, stamp, workers.identity(), progress]
        if limit is None:
            sql = head + f"WHERE {where} AND state = %s AND {_NOT_PAUSED} RETURNING *"
            params += [*ids, JobState.WAITING, True]
        else:
            sql = head + (
                f"WHERE id IN (SELECT id FROM {table} WHERE {where} AND state = %s AND {_NOT_PAUSED} "
                "ORDER BY priority, id LIMIT %s) AND state = %s RETURNING *"
            )
            params += [*ids, JobState.WAITING, True, limit - len(claimed), JobState.WAITING]
        claimed.extend(Job.objects.raw(sql, params))
    return claimed


def _defer(job_ids: list[int], queue: str, wait_ms: int) -> list[int]:
    """The jobs of ``job_ids`` still waiting in ``queue``, over its rate limit: published again to arrive
    when its window frees (``wait_ms``), still ``waiting`` (no attempt spent). Their ``enqueued_at`` is
    renewed (they do have a message: the lost-message sweep leaves them alone). Jobs of a paused queue
    are dropped instead (resume publishes them). Returns the ids deferred."""
    if not job_ids or JobQueue.objects.filter(name=queue, paused=True).exists():
        return []
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Job.objects.filter(pk__in=job_ids, queue=queue, state=JobState.WAITING).only(
                "pk", "state", "queue", "priority"
            )
        )
        Job.objects.filter(pk__in=[j.pk for j in rows], state=JobState.WAITING).update(enqueued_at=now)
        transaction.on_commit(lambda: publish_batches(rows, countdown_s=max(wait_ms, 1) / 1000))
    return [j.pk for j in rows]


def _hand_back(jobs: list[Job]) -> list[int]:
    """Unstarted claimed jobs go back to ``waiting`` (their claim undone: no attempt spent) and out as
    a new message, with one statement: conditional on this worker holding each job and its turn not
    having come (``started_at`` NULL). Returns the ids handed back."""
    if not jobs:
        return []
    now = timezone.now()
    table = Job._meta.db_table
    stamp = Job._meta.get_field("enqueued_at").get_db_prep_value(now, connection)
    marks = ", ".join(["%s"] * len(jobs))
    sql = (
        f"UPDATE {table} SET state = %s, attempts_made = attempts_made - 1, heartbeat_at = NULL, "
        f"worker = '', enqueued_at = %s WHERE id IN ({marks}) AND state = %s AND worker = %s "
        "AND started_at IS NULL RETURNING id"
    )
    params = [JobState.WAITING, stamp, *[j.pk for j in jobs], JobState.ACTIVE, workers.identity()]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = {row[0] for row in cursor.fetchall()}
        back = [j for j in jobs if j.pk in ids]
        for job in back:
            job.state, job.attempts_made, job.enqueued_at = JobState.WAITING, job.attempts_made - 1, now
        transaction.on_commit(lambda: publish_batches(back))
    return sorted(ids)


def _hand_back_in_thread(jobs: list[Job], handed: list[int]) -> None:
    try:
        handed.extend(_hand_back(jobs))
    except Exception:  # they stay active with this worker: the reconciler hands them back when stale
        logger.warning("could not hand back %d unstarted job(s)", len(jobs), exc_info=True)
    finally:
        connection.close()  # this thread's own connection


class _Alarm:
    """A job's own ``timeout`` inside a batch: ``SIGALRM`` raises :class:`SoftTimeLimitExceeded` in the
    handler (as Celery's soft limit does for a single job). Only in the process's main thread, which is
    where prefork and solo pools run tasks; elsewhere (a threads pool) a batch cannot bound a job."""

    def __init__(self, timeout_ms: Any):
        self.seconds = timeout_ms / 1000 if isinstance(timeout_ms, int | float) and timeout_ms > 0 else 0
        self.armed = bool(self.seconds) and threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.armed:
            self._previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    @staticmethod
    def _fire(signum, frame):
        raise SoftTimeLimitExceeded()

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)
        return False


def jobs_execute_batch(*, job_ids: list[int], queue: str | None = None) -> int:
    """Run the jobs of one ``run_jobs`` message (module docstring). Idempotent: jobs no longer
    ``waiting`` are skipped. Returns the number of jobs this call started.

    ``queue`` (the message's job queue): with a rate limit the batch takes as many start slots as it
    has jobs (``jobs.limiter``), claims that many, and publishes the rest again for when the window
    frees (:func:`_defer`): they stay waiting, no pool process waits for them."""
    limit = queue_control.limiter_of(queue)
    deferred: list[int] = []
    grant = None
    slots: dict[int, int] = {}  # job id → its limiter slot
    if limit is not None and queue is not None:
        wanted = sorted(set(job_ids))
        grant = limiter_take(queue=queue, limit_max=limit[0], duration_ms=limit[1], want=len(wanted))
        claimed = _claim_many(wanted, timezone.now(), limit=grant.granted) if grant.granted else []
        claimed.sort(key=lambda j: (j.priority, j.pk))
        slots = {job.pk: slot for slot, job in enumerate(claimed, start=1)}
        limiter_give_back(grant=grant, slots=list(range(len(claimed) + 1, grant.granted + 1)))
        if grant.granted < len(wanted):
            taken = set(slots)
            deferred = _defer([i for i in wanted if i not in taken], queue, grant.wait_ms)
    else:
        claimed = sorted(_claim_many(job_ids, timezone.now()), key=lambda j: (j.priority, j.pk))
    if not claimed:
        workers.release(sorted(set(job_ids) - set(deferred)))
        return 0
    todo = deque(claimed)
    lock = threading.Lock()
    handed: list[int] = []

    def slice_over() -> None:
        with lock:
            rest = list(todo)
            todo.clear()
        if rest:
            _hand_back_in_thread(rest, handed)

    timer = None
    if len(claimed) > 1:
        timer = threading.Timer(settings.JOB_BATCH_SLICE_S, slice_over)
        timer.daemon = True
        timer.start()
    pending: list[tuple[Job, Completion]] = []
    last_flush = time.monotonic()
    started = 0
    try:
        while True:
            with lock:
                if not todo:
                    break
                job = todo.popleft()
            started += 1
            job.started_at = timezone.now()
            if grant is not None:  # the window counts the start the job records
                limiter_started(grant=grant, slot=slots[job.pk], started_at=job.started_at)
            workers.started(job.pk)
            timeout_ms = job.options.get("timeout") if isinstance(job.options, dict) else None
            try:
                with _Alarm(timeout_ms):
                    outcome = job_run_claimed(job)
            except SoftTimeLimitExceeded:  # the alarm rang just after the handler returned
                outcome = _fail_or_retry(job, job.attempts_made, f"timeout: exceeded {timeout_ms} ms", "")
            if isinstance(outcome, Completion):
                pending.append((job, outcome))
            if pending and time.monotonic() - last_flush >= settings.JOB_BATCH_FLUSH_S:
                jobs_complete_many(pending)
                workers.settled([j.pk for j, _ in pending])
                pending, last_flush = [], time.monotonic()
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()  # a hand-back under way finishes before the ids are released
        if grant is not None:  # handed back unstarted: their slots are free again
            limiter_give_back(grant=grant, slots=[slots[i] for i in handed if i in slots])
        if pending:
            jobs_complete_many(pending)
        workers.settled([j.pk for j in claimed])
        # The handed-back ids travel in a new message, which this or another worker may hold already.
        workers.release(sorted(set(job_ids) - set(handed) - set(deferred)))
    return started
