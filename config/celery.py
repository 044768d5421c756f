"""The Celery app: three queues as in the seed (`jobs`, `schedules`, `webhooks`), settings from Django.

Run a worker with ``celery -A config worker -Q jobs,schedules,webhooks`` and beat with
``celery -A config beat`` (the scheduler class comes from ``CELERY_BEAT_SCHEDULER``).
"""

import os

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("jobserver")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("jobs"), Queue("schedules"), Queue("webhooks"))
app.autodiscover_tasks()

# issue 9: job/schedule ids on the log records of a task, JSON logs in workers (LOG_FORMAT=json)
from . import logs, metrics  # noqa: E402,F401


@signals.task_postrun.connect(weak=False)
def _close_old_connections(**_):
    """After each task, close database connections that broke or outlived CONN_MAX_AGE (as Django
    does after each request); the rest are reused by the next task (``CELERY_DB_REUSE_MAX``)."""
    from django.db import close_old_connections

    close_old_connections()


@signals.worker_process_shutdown.connect(weak=False)
def _flush_throughput(**_):
    """A pool process that stops sends its last second of Queues-board counts (``jobs.throughput``):
    billiard's children end with ``os._exit``, which skips ``atexit``."""
    from jobs.throughput import flush

    flush()
