"""The Celery app: three queues as in the seed (`jobs`, `schedules`, `webhooks`), settings from Django.

Run a worker with ``celery -A config worker -Q 'jobs.*,schedules,webhooks'`` (``jobs.*``: every named
job queue, :data:`ALL_JOB_QUEUES`) and beat with
``celery -A config beat`` (the scheduler class comes from ``CELERY_BEAT_SCHEDULER``).
"""

import os

from celery import Celery, Task, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("jobserver")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("jobs"), Queue("schedules"), Queue("webhooks"))
app.autodiscover_tasks()

# issue 9: job/schedule ids on the log records of a task, JSON logs in workers (LOG_FORMAT=json)
from . import logs, metrics  # noqa: E402,F401


def use_persistent_connections() -> None:
    """Celery processes keep their database connection across tasks (``CELERY_CONN_MAX_AGE_S``)
    instead of the web's per-request connections from a pool (config/settings.py, "Connections").

    Called in the worker's main process before it forks its children (``worker_init``) and by
    beat's scheduler class before its first query, before anything opened a connection: each
    prefork child and beat hold one connection per thread that uses the database, bounded by
    construction, with no pool to inherit across the fork.
    """
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        options = connection.settings_dict.get("OPTIONS", {})
        if options.get("pool"):
            connection.close()
            # Reads OPTIONS["pool"]: before removing it. PostgreSQL's wrapper has it since Django 5.1;
            # django-stubs do not declare it yet.
            connection.close_pool()  # type: ignore[attr-defined]
            del options["pool"]
        connection.settings_dict["CONN_MAX_AGE"] = settings.CELERY_CONN_MAX_AGE_S


@signals.worker_init.connect(weak=False)
def _worker_connections(**_):
    """Before the pool forks: persistent connections, and the main process joins the registry of live
    workers (``jobs.workers``) with its heartbeat thread; its pool processes inherit its identity."""
    from jobs import workers

    use_persistent_connections()
    workers.register()


#: In a worker's ``-Q``: every declared job queue's Celery queue (``jobs.named_queues.celery_queues``:
#: ``jobs`` for the default queue, ``jobs.<name>`` for the others), read from ``JOB_QUEUES`` when the
#: worker starts. ``celery -A config worker -Q 'jobs.*,schedules'`` serves every job queue and the
#: schedule fires; ``-Q jobs.<name>`` serves one named queue only (docs/queues.md).
ALL_JOB_QUEUES = "jobs.*"


@signals.celeryd_after_setup.connect(weak=False)
def _expand_job_queues(sender=None, instance=None, **_):
    """Replace :data:`ALL_JOB_QUEUES` in the worker's queues by every declared job queue (Celery's
    documented place to add queues a worker consumes)."""
    from jobs import named_queues

    queues = instance.app.amqp.queues
    if ALL_JOB_QUEUES in (queues.consume_from or {}):
        queues.deselect([ALL_JOB_QUEUES])
        for name in named_queues.celery_queues():
            queues.select_add(name)


@signals.worker_shutdown.connect(weak=False)
def _unregister_worker(**_):
    from jobs import workers

    workers.unregister()


@signals.task_received.connect(weak=False)
def _hold_jobs(request=None, **_):
    """Main process: remember the jobs of a message it received, so the reconciler can hand them back
    if this worker dies before running them."""
    from jobs import workers

    if request is not None:
        workers.hold(workers.job_ids_of(request.task_name, request.args))


@signals.task_postrun.connect(weak=False)
def _release_jobs(task=None, args=None, **_):
    """A ``run_job`` ended; a ``run_jobs`` batch releases its own ids (not the ones it handed back,
    which travel in a new message another task may hold already: ``jobs.runtime``)."""
    from jobs import workers

    if task is not None and task.name == "jobs.tasks.run_job":
        workers.release(workers.job_ids_of(task.name, args))


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


class DatabaseRetryTask(Task):
    """Base of the tasks whose message must not be lost to a database hiccup (``run_job``, the fire
    tasks, ``deliver``): a transient database error (``config.dberrors``: no connection to be had,
    "too many clients", a lost connection, SQLite's "database is locked") re-publishes the same call
    after 0.5, 1, 2, 4, 8, then every ``TASK_DB_RETRY_MAX_DELAY_S`` seconds, at most
    ``TASK_DB_RETRY_MAX`` times, instead of failing the message and leaving its job ``waiting`` for the
    reconciler (``JOB_REQUEUE_WAITING_AFTER_S``, 300 s). The tasks are idempotent (claims are
    conditional UPDATEs), so running one again is safe. Other errors propagate as before.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        from django.conf import settings
        from django.db import DatabaseError, close_old_connections

        from .dberrors import is_transient_database_error

        try:
            return super().__call__(*args, **kwargs)
        except DatabaseError as exc:
            if self.request.called_directly or self.request.is_eager or not is_transient_database_error(exc):
                raise
            close_old_connections()  # a broken persistent connection is dropped, the next task reconnects
            retries = self.request.retries
            countdown = min(settings.TASK_DB_RETRY_MAX_DELAY_S, 0.5 * 2**retries)
            raise self.retry(exc=exc, countdown=countdown, max_retries=settings.TASK_DB_RETRY_MAX) from exc
