"""Celery tasks of queue ``jobs``: thin wrappers around :mod:`jobs.runtime`."""

from celery import shared_task

from config.celery import DatabaseRetryTask

from . import runtime


@shared_task(
    name="jobs.tasks.run_job", ignore_result=True, base=DatabaseRetryTask, log_context={"job_id": "job_id"}
)
def run_job(job_id: int, queue: str | None = None) -> None:
    """Run job ``job_id`` of job queue ``queue`` (idempotent: a redelivered message for a finished job
    does nothing). ``queue`` (absent in messages of older releases) selects the queue's rate limit."""
    runtime.job_execute(job_id=job_id, queue=queue)


@shared_task(name="jobs.tasks.run_jobs", ignore_result=True, base=DatabaseRetryTask)
def run_jobs(job_ids: list[int], queue: str | None = None) -> None:
    """Run the jobs of a batch (``jobs.runtime``): one claim, in order, unstarted ones handed back
    after ``JOB_BATCH_SLICE_S``. Idempotent: jobs no longer waiting are skipped. ``queue``: the jobs'
    queue (all of a message's jobs share it), for its rate limit."""
    runtime.jobs_execute_batch(job_ids=[int(i) for i in job_ids], queue=queue)
