"""Queues as the Queues board (``/admin/queues/``) sees them: what each holds, its counts, its age,
its throughput, and the workers that serve it.

:func:`queue_overview` is the one "queues and their counts" function the board renders; the queues
come from :func:`queues`. Today they are the three Celery queues of the design (``jobs``,
``schedules``, ``webhooks``); named job queues (issue 16) become more entries of :func:`queues`
(kind ``jobs``, matching on the job's queue) and every part of the board lists them unchanged.

Who sees what: a superuser every user's jobs and deliveries, other staff their own
(:func:`visible_jobs`, :func:`visible_deliveries`); the chart follows the same rule
(``jobs.throughput`` counts per owner too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import redis
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from . import named_queues, queue_control, throughput
from .models import Job, JobState

logger = logging.getLogger(__name__)

STATES = tuple(JobState.values)
# Seconds the board waits for the workers' answers to each broadcast (sent in parallel).
INSPECT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Queue:
    """One queue of the board.

    ``kind`` ``jobs``: its rows are jobs (``job_filter`` narrows ``Job`` to this queue, ``holds``
    says the same of one job); ``deliveries``: webhook deliveries.
    """

    name: str
    description: str
    kind: str
    job_filter: Q | None = None
    holds: Callable[[Job], bool] | None = None
    named: bool = False  # a named job queue (JOB_QUEUES): paused, resumed and rate-limited by staff


def queues() -> list[Queue]:
    """The queues the board lists, in order: the Celery queues of the design, then every named job
    queue (``JOB_QUEUES``; docs/queues.md)."""
    board = [
        Queue("jobs", "every job: submitted, scheduled and retried", "jobs", Q(), lambda job: True),
        Queue(
            "schedules",
            "schedule fires, and the jobs they created",
            "jobs",
            Q(schedule__isnull=False),
            lambda job: job.schedule_id is not None,
        ),
        Queue("webhooks", "webhook deliveries", "deliveries"),
    ]
    for name in named_queues.declared():
        if name in {q.name for q in board}:
            continue  # a named queue called like a Celery queue of the board: listed once
        board.append(
            Queue(
                name,
                f"named queue (Celery queue {named_queues.celery_queue(name)})",
                "jobs",
                Q(queue=name),
                lambda job, name=name: job.queue == name,  # type: ignore[misc]
                named=True,
            )
        )
    return board


def queue_get(name: str) -> Queue:
    """The queue called ``name``; ``Http404`` for any other name."""
    for queue in queues():
        if queue.name == name:
            return queue
    raise Http404


def queues_of(job: Job) -> list[str]:
    """The names of the job queues ``job`` counts in (for ``jobs.throughput``)."""
    return [q.name for q in queues() if q.kind == "jobs" and q.holds is not None and q.holds(job)]


def visible_jobs(user) -> QuerySet:
    """Every job for a superuser, the user's own for other staff (the board's scope rule)."""
    return Job.objects.all() if user.is_superuser else Job.objects.owned_by(user)


def visible_deliveries(user) -> QuerySet:
    from webhooks.models import Delivery

    return Delivery.objects.all() if user.is_superuser else Delivery.objects.filter(webhook__owner=user)


def queue_jobs(user, queue: Queue, state: str | None = None) -> QuerySet:
    """The jobs of ``queue`` that ``user`` may see, newest first, optionally in one state."""
    if queue.kind != "jobs":
        raise Http404
    qs = visible_jobs(user).filter(queue.job_filter).select_related("owner", "schedule")
    if state == "paused":  # BullMQ's word for the waiting jobs of a paused queue
        qs = qs.filter(state=JobState.WAITING)
    elif state:
        qs = qs.filter(state=state)
    return qs.order_by("-id")


def _counts(qs: QuerySet, states) -> list[tuple[str, int]]:
    found = dict(qs.order_by().values_list("state").annotate(n=Count("id")))
    return [(state, found.get(state, 0)) for state in states]


def _backlog() -> dict[str, int]:
    """Messages waiting per queue name; ``{}`` when Redis does not answer (each count then unknown)."""
    from config.metrics import queue_depths
    from config.redis_client import redis_client

    try:
        return queue_depths(redis_client(timeout_s=1.0))
    except redis.RedisError:
        logger.warning("queues board: Redis did not answer", exc_info=True)
        return {}


def _oldest_waiting(queue: Queue, user, now: datetime) -> datetime | None:
    """When the longest-waiting item of ``queue`` became due: a waiting job's ``enqueued_at`` (the
    partial index on waiting jobs), a due pending delivery's ``next_attempt_at``."""
    if queue.kind == "jobs":
        return (
            visible_jobs(user)
            .filter(queue.job_filter, state=JobState.WAITING, enqueued_at__isnull=False)
            .order_by("enqueued_at")
            .values_list("enqueued_at", flat=True)
            .first()
        )
    from webhooks.models import DeliveryState

    return (
        visible_deliveries(user)
        .filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


def queue_overview(user, *, now: datetime | None = None, with_series: bool = True) -> list[dict]:
    """Every queue with what ``user`` may see of it::

        {"name", "description", "kind", "states": [...], "counts": [(state, n), ...], "total",
         "named": a named job queue?, "paused": bool, "limiter": {"max", "duration"} | None,
         "backlog": messages in Redis (None: unknown), "oldest_waiting_at": datetime | None,
         "throughput": {"minutes", "completed", "failed"} (last 60 minutes, jobs.throughput),
         "schedules": {state: n} (queue "schedules" only)}

    Job queues count jobs by state (one GROUP BY each); ``webhooks`` counts deliveries by state.
    """
    from scheduling.models import Schedule
    from webhooks.models import DeliveryState

    now = now or timezone.now()
    backlog = _backlog()
    owner_id = None if user.is_superuser else user.pk
    control = {s.name: s for s in queue_control.queue_states()}
    rows = []
    for queue in queues():
        if queue.kind == "jobs":
            states = STATES
            counts = _counts(visible_jobs(user).filter(queue.job_filter), states)
            if queue.named:  # BullMQ's "paused": the waiting jobs of a paused queue
                waiting = dict(counts)[JobState.WAITING]
                paused = control[queue.name].paused
                states = (*STATES, "paused")
                counts = [(st, 0 if paused and st == JobState.WAITING else n) for st, n in counts]
                counts.append(("paused", waiting if paused else 0))
        else:
            states = tuple(DeliveryState.values)
            counts = _counts(visible_deliveries(user), states)
        row = {
            "name": queue.name,
            "description": queue.description,
            "kind": queue.kind,
            "states": states,
            "counts": counts,
            "total": sum(n for _, n in counts),
            "backlog": backlog.get(named_queues.celery_queue(queue.name) if queue.named else queue.name),
            "oldest_waiting_at": _oldest_waiting(queue, user, now),
            "named": queue.named,
            "paused": control[queue.name].paused if queue.named else False,
            "limiter": control[queue.name].limiter if queue.named else None,
        }
        if with_series:
            row["throughput"] = throughput.series(queue=queue.name, owner_id=owner_id, now_s=now.timestamp())
        if queue.name == "schedules":
            schedules = Schedule.objects.all() if user.is_superuser else Schedule.objects.owned_by(user)
            row["schedules"] = dict(schedules.order_by().values_list("state").annotate(n=Count("id")))
        rows.append(row)
    return rows


# --- workers (Celery's inspect API, as Flower shows them) -------------------------------------------------


def _inspect(method: str) -> dict | None:
    from config.celery import app

    try:
        return getattr(app.control.inspect(timeout=INSPECT_TIMEOUT_S), method)() or {}
    except Exception:  # noqa: BLE001 - a broker outage shows as "unknown", not a 500
        logger.warning("queues board: Celery inspect %s failed", method, exc_info=True)
        return None


def workers_overview(user, *, now_s: float | None = None) -> list[dict] | None:
    """The workers that answer within ``INSPECT_TIMEOUT_S``, or ``None`` if the broker could not be asked::

        [{"name", "queues": [...], "concurrency": pool size, "processes": [pids],
          "active": [{"task", "job_id", "job_name", "runtime_s", "started_at_s"}], "hidden": n}]

    Three broadcasts (``stats``, ``active_queues``, ``active``) sent in parallel, so the answer takes
    about one timeout. ``active`` lists the tasks running now with how long each has run (from the
    worker's ``time_start``); a ``run_job`` task of a job the user may not see is only counted in
    ``hidden``.
    """
    now_s = time.time() if now_s is None else now_s
    with ThreadPoolExecutor(max_workers=3) as pool:
        stats, active_queues, active = pool.map(_inspect, ("stats", "active_queues", "active"))
    if stats is None and active_queues is None and active is None:
        return None
    names = sorted(set(stats or {}) | set(active_queues or {}) | set(active or {}))
    running = [t for tasks in (active or {}).values() for t in tasks]
    job_ids = [_job_id(t) for t in running if _job_id(t) is not None]
    jobs = {j.pk: j for j in visible_jobs(user).filter(pk__in=job_ids).only("pk", "name", "owner_id")}
    workers = []
    for name in names:
        pool_info = ((stats or {}).get(name) or {}).get("pool") or {}
        shown, hidden = [], 0
        for task in (active or {}).get(name) or []:
            job_id = _job_id(task)
            if job_id is not None and job_id not in jobs:
                hidden += 1
                continue
            started = task.get("time_start")
            shown.append(
                {
                    "task": task.get("name", ""),
                    "job_id": job_id,
                    "job_name": jobs[job_id].name if job_id is not None else None,
                    "started_at_s": started,
                    "runtime_s": max(0.0, now_s - started) if started else None,
                }
            )
        workers.append(
            {
                "name": name,
                "queues": sorted(q.get("name", "") for q in (active_queues or {}).get(name) or []),
                "concurrency": pool_info.get("max-concurrency"),
                "processes": pool_info.get("processes") or [],
                "active": shown,
                "hidden": hidden,
            }
        )
    return workers


def _job_id(task: dict) -> int | None:
    if task.get("name") != "jobs.tasks.run_job":
        return None
    args = task.get("args") or []
    return args[0] if args and isinstance(args[0], int) else None
