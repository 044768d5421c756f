"""Job actions for people: one job or many, from the job page, the jobs list, the Queues board and
the admin. Built on the same services as the API (``jobs.actions``), so a refused action reads
exactly as the API's 409 message.

``JOB_ACTIONS`` names the actions; :func:`actions_for` says which ones a job's state offers (the
buttons), :func:`job_apply` runs one, :func:`jobs_apply` runs one on many.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from .actions import JobStateConflict, job_cancel, job_delete, job_promote, job_retry
from .models import FINISHED_STATES, Job, JobState


@dataclass(frozen=True)
class JobAction:
    name: str
    label: str  # the button
    done: str  # "Job #12 {done}."
    service: Callable
    states: tuple[str, ...]  # states whose job page offers it (the service decides, these only hide buttons)


JOB_ACTIONS: dict[str, JobAction] = {
    a.name: a
    for a in (
        JobAction("retry", "Retry", "put back to waiting", job_retry, (JobState.FAILED, JobState.CANCELLED)),
        JobAction(
            "cancel", "Cancel", "cancelled", job_cancel, (JobState.WAITING, JobState.DELAYED, JobState.ACTIVE)
        ),
        JobAction("promote", "Run now", "promoted: it runs now", job_promote, (JobState.DELAYED,)),
        # job_delete's rule (BullMQ's): any job but an active one.
        JobAction(
            "delete", "Delete", "deleted", job_delete, (JobState.WAITING, JobState.DELAYED, *FINISHED_STATES)
        ),
    )
}


def actions_for(job: Job) -> list[JobAction]:
    """The actions a job's page offers in its current state (a cancel already asked for is not offered)."""
    return [
        a
        for a in JOB_ACTIONS.values()
        if job.state in a.states and not (a.name == "cancel" and job.cancel_requested)
    ]


def job_apply(action: str, job: Job) -> str:
    """Run ``action`` on ``job`` through its service; returns the message for the person.

    Raises :class:`JobStateConflict` (the API's 409 message) when the state does not allow it, and
    ``KeyError`` for an unknown action.
    """
    spec = JOB_ACTIONS[action]
    result = spec.service(job=job)
    if action == "cancel" and result is not None and result.state == JobState.ACTIVE:
        return f"Job #{job.pk}: cancel requested; it stops at its next check."
    return f"Job #{job.pk} {spec.done}."


def applied(service, job: Job) -> bool:
    """Run ``service(job=job)``; ``False`` when the job's state does not allow it (the API's 409)."""
    try:
        service(job=job)
    except JobStateConflict:
        return False
    return True


def jobs_apply(action: str, jobs: Iterable[Job]) -> tuple[int, list[str]]:
    """Run ``action`` on each of ``jobs`` (already scoped to what the person may touch).

    Returns ``(done, refusals)``: how many succeeded and the 409 message of each job that was refused.
    """
    spec = JOB_ACTIONS[action]
    done, refusals = 0, []
    for job in jobs:
        try:
            spec.service(job=job)
        except JobStateConflict as exc:
            refusals.append(str(exc))
        else:
            done += 1
    return done, refusals


def jobs_retry_failed(*, jobs: QuerySet) -> int:
    """Retry every failed job of ``jobs`` (an owner-scoped queryset); returns how many."""
    return sum(applied(job_retry, job) for job in jobs.filter(state=JobState.FAILED))


def jobs_cancel(*, jobs: QuerySet) -> int:
    """Cancel each job of ``jobs`` that can be (active ones are asked to stop); returns how many."""
    return sum(applied(job_cancel, job) for job in jobs)


@transaction.atomic
def jobs_clean_finished(*, jobs: QuerySet, states: Iterable[str] = FINISHED_STATES) -> int:
    """Delete the jobs of ``jobs`` in ``states`` (default: completed, failed and cancelled); returns how many.

    Only finished states are ever deleted here, whatever ``states`` holds: cleaning never removes a job
    that is still to run (deleting one by one, ``job_delete``, also takes waiting and delayed jobs).
    """
    states = [s for s in states if s in FINISHED_STATES]
    deleted, _ = Job.objects.filter(pk__in=jobs.filter(state__in=states).values("pk")).delete()
    return deleted
