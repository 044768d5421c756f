"""Celery tasks of queue ``jobs``: thin wrappers around :mod:`jobs.services`."""

from celery import shared_task

from config.celery import DatabaseRetryTask

from . import services


@shared_task(name="jobs.tasks.run_job", ignore_result=True, base=DatabaseRetryTask)
def run_job(job_id: int) -> None:
    """Run job ``job_id`` (idempotent: a redelivered message for a finished job does nothing)."""
    services.job_execute(job_id=job_id)
