"""Beat's leader keeps the jobs moving: it promotes due delayed jobs and retries (:func:`jobs_promote_due`)
and repairs what a lost message or a dead worker left behind (:func:`jobs_reconcile`, BullMQ's
stalled-job rule; docs/runtime.md). Both are periodic hooks (``config.periodic``) registered by
``JobsConfig.ready``: promotion every tick, reconciliation every ``JOB_RECONCILE_EVERY_S``."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import workers
from .attempts import with_attempt
from .dependencies import final_write
from .models import Job, JobQueue, JobState
from .publishing import job_enqueue, jobs_enqueue_many, publish_batches
from .realtime import publish_job_event
from .runtime import _attempt_qs, _fail_or_retry

logger = logging.getLogger(__name__)


def jobs_promote_due(*, now=None, cap: float = 1.0) -> float:
    """Beat's leader calls this every tick: publish due delayed jobs.

    Moves ``delayed`` jobs whose ``run_at`` has passed to ``waiting`` (conditional UPDATE, then
    publish after commit) and returns the seconds until the next delayed job is due (at most
    ``cap``) so beat can sleep that long. Never raises: a failure is logged and retried on the next tick.
    """
    try:
        now = now or timezone.now()
        batch = settings.JOB_MAINTENANCE_BATCH_SIZE
        while _promote_batch(now, batch) >= batch:
            pass
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
        logger.exception("promoting delayed jobs failed; retrying next tick")
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
        transaction.on_commit(lambda: jobs_enqueue_many(due))
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
      (their message may be gone, e.g. Redis restarted empty; a duplicate is a no-op at claim), except
      those of a paused queue (their messages are dropped on purpose; resume publishes them).
    Returns ``{"requeued": n, "stale": m}`` (``stale``: active jobs handed back or ended).
    """
    now = now or timezone.now()
    batch = settings.JOB_MAINTENANCE_BATCH_SIZE
    requeued, stale = _reconcile_dead_workers(now)
    cutoff = now - timedelta(seconds=settings.JOB_REQUEUE_WAITING_AFTER_S)
    # A paused queue's waiting jobs have no message on purpose (resume publishes them): not lost.
    lost = (
        Job.objects.filter(state=JobState.WAITING)
        .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, created_at__lt=cutoff))
        .exclude(queue__in=JobQueue.objects.filter(paused=True).values("name"))
        .order_by("enqueued_at")
    )
    again = [
        job for job in lost[:batch]
        if Job.objects.filter(pk=job.pk, state=JobState.WAITING, enqueued_at=job.enqueued_at).update(
            enqueued_at=now
        )
    ]
    requeued += _publish_again(again)
    if requeued:
        logger.info("reconciler published %d waiting job(s) again", requeued)
    stale_cutoff = now - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    for job in Job.objects.filter(state=JobState.ACTIVE, heartbeat_at__lt=stale_cutoff).select_related(
        "schedule"
    )[:batch]:
        age = (now - job.heartbeat_at).total_seconds()
        why = f"no heartbeat for {age:.0f} s"
        stale += _lost(job, now, Q(heartbeat_at=job.heartbeat_at), why, ran=True)  # unknown: assume it ran
    if stale:
        logger.info("reconciler handed back %d active job(s) whose worker was lost", stale)
    return {"requeued": requeued, "stale": stale}


def _publish_again(jobs: list[Job]) -> int:
    """Publish waiting jobs again, as batches (a duplicate message is a no-op at claim)."""
    publish_batches(jobs)
    return len(jobs)


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
        running = workers.running_jobs(worker)
        for start in range(0, len(held), settings.JOB_MAINTENANCE_BATCH_SIZE):
            chunk = held[start : start + settings.JOB_MAINTENANCE_BATCH_SIZE]
            waiting = list(
                Job.objects.filter(pk__in=chunk, state=JobState.WAITING).exclude(
                    queue__in=JobQueue.objects.filter(paused=True).values("name")
                )
            )
            Job.objects.filter(pk__in=[j.pk for j in waiting], state=JobState.WAITING).update(enqueued_at=now)
            requeued += _publish_again(waiting)
        for job in Job.objects.filter(state=JobState.ACTIVE, worker=worker).select_related("schedule"):
            ran = job.started_at is not None or job.pk in running
            stale += _lost(job, now, Q(worker=worker), f"its worker {worker} died", ran=ran)
        workers.forget(worker)
        logger.warning("worker %s died; %d held job(s) handed back", worker, len(held))
    return requeued, stale


def _lost(job: Job, now, same_holder: Q, why: str, *, ran: bool) -> int:
    """An active job whose worker is gone: ``cancelled`` if a cancel was requested, a failed attempt
    if it ran past its ``timeout``, else the stalled-job rule (:func:`_stall`). Conditional on
    ``same_holder`` (and the attempt), so a worker that is alive after all keeps the job. Returns 1 if
    this call decided the job's fate, else 0."""
    if job.cancel_requested:
        reason = "cancelled: its worker was lost"
        history = with_attempt(
            job, attempt=job.attempts_made, finished_at=now, outcome=JobState.CANCELLED, reason=reason
        )
        if final_write(job, JobState.CANCELLED, lambda: _attempt_qs(job, job.attempts_made).filter(
            same_holder
        ).update(
            state=JobState.CANCELLED, failed_reason=reason, finished_at=now, heartbeat_at=None,
            attempt_history=history,
        )):
            job.state = JobState.CANCELLED
            publish_job_event(job, "cancelled")
            return 1
        return 0
    timeout_ms = job.options.get("timeout")
    if timeout_ms and job.started_at and now - job.started_at >= timedelta(milliseconds=timeout_ms):
        reason = f"timeout: exceeded {timeout_ms} ms"
        return int(_fail_or_retry(job, job.attempts_made, reason, "", extra=same_holder) is not None)
    return int(_stall(job, now, same_holder, why, ran=ran))


def _stall(job: Job, now, same_holder: Q, why: str, *, ran: bool = True) -> bool:
    """BullMQ's stalled-job rule: a job whose worker died goes back to ``waiting`` without spending an
    attempt (its next run keeps the attempt number; ``stalled_count`` goes up), at most
    ``JOB_MAX_STALLED`` times (BullMQ's ``maxStalledCount``, default 1); past that it fails for good
    with BullMQ's reason ``job stalled more than allowable limit``. The attempt history records the
    stalled run (outcome ``stalled``)."""
    attempt = job.attempts_made
    if not ran:  # claimed in a batch, its turn never came: handed back as if never claimed
        with transaction.atomic():
            if not _attempt_qs(job, attempt).filter(same_holder).update(
                state=JobState.WAITING, attempts_made=attempt - 1, enqueued_at=now, heartbeat_at=None,
                worker="",
            ):
                return False
            job.state, job.attempts_made, job.enqueued_at = JobState.WAITING, attempt - 1, now
            transaction.on_commit(lambda: job_enqueue(job))
        return True
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
