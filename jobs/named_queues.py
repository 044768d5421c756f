"""Named job queues (issue 16; docs/queues.md): the operator declares them (``JOB_QUEUES``), every
job and schedule belongs to one (``Job.queue``, ``Schedule.queue``; BullMQ's ``queueName``), and each
maps to a Celery queue, so a worker pool serves some queues only (``celery worker -Q ...``).

The default queue (``JOB_DEFAULT_QUEUE``, ``jobQueue`` as in the system we port) travels on Celery
queue ``jobs``, as every job did before named queues existed; queue ``<name>`` on ``jobs.<name>``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

#: Celery queue of the default job queue (the design's ``jobs``, the seed's jobQueue).
DEFAULT_CELERY_QUEUE = "jobs"

#: Names no queue may have: our own routes ``/jobs/schedule``, ``/jobs/submit``, ``/jobs/handlers``
#: would otherwise read as ``/jobs/{queueName}`` (``config/settings.py`` refuses them in ``JOB_QUEUES``).
RESERVED_NAMES = ("schedule", "submit", "handlers")


def declared() -> list[str]:
    """The operator's queue names (``JOB_QUEUES``), in the declared order."""
    return list(settings.JOB_QUEUES)


def default() -> str:
    """The queue of a job or schedule that names none (``JOB_DEFAULT_QUEUE``)."""
    return str(settings.JOB_DEFAULT_QUEUE)


def celery_queue(name: str) -> str:
    """The Celery queue that carries the messages of job queue ``name``: ``jobs`` for the default
    queue, ``jobs.<name>`` for the others."""
    return DEFAULT_CELERY_QUEUE if name == default() else f"{DEFAULT_CELERY_QUEUE}.{name}"


def celery_queues() -> list[str]:
    """Every job queue's Celery queue, default first (what a worker serving all job queues consumes)."""
    names = [default()] + [n for n in declared() if n != default()]
    return [celery_queue(n) for n in names]


def validate(value: Any, *, field: str = "queue") -> str:
    """``value`` if it is a declared queue name, ``default()`` when it is ``None``.

    Raises ``ValidationError`` (code ``unknown_queue``) naming ``field`` and listing the declared
    queues otherwise.
    """
    if value is None:
        return default()
    if not isinstance(value, str) or value not in declared():
        raise ValidationError(
            {field: [f"{field}: no queue named {value!r}; declared queues: {', '.join(declared())}"]},
            code="unknown_queue",
        )
    return value


if __name__ == "__main__":
    # `python -m jobs.named_queues`: the Celery queues a worker serving every job queue consumes, comma
    # separated (Procfile, docker-compose:
    # `celery -A config worker -Q "$(python -m jobs.named_queues),schedules"`).
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    print(",".join(celery_queues()))
