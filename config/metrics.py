"""Prometheus metrics served at ``/metrics`` (view in :mod:`config.health`), computed at scrape time.

Imported by the Celery app and by ``jobs.runtime``, so it must not import DRF or models at module
level.

Series (prefix ``jobserver_``):

- ``jobserver_jobs{state, handler}`` (gauge): jobs stored, by state and handler; one ``GROUP BY``.
- ``jobserver_schedules{state}`` (gauge): schedules by state.
- ``jobserver_fire_lateness_seconds`` (histogram): for each scheduled job, how long after its nominal
  fire time it started (``started_at - fire_at``). Workers are separate processes on possibly many
  machines, so the observation is made in the worker when it claims the job for its first run
  (``jobs.runtime.job_execute``, from the claimed row: no extra query) and kept in Redis: one hash
  of cumulative bucket counts plus sum and count (``jobserver:metrics:fire_lateness``), which every
  web process reads at scrape time. A Redis flush resets it, which Prometheus treats as a counter
  reset. Each job is counted once (a ``SET NX`` marker that lives a day guards against a redelivered
  message).
- ``jobserver_webhook_deliveries{state}`` (gauge): deliveries by state, from the webhooks app's
  ``Delivery`` table when it has one (absent before that app's models exist).
- ``jobserver_queue_depth{queue}`` (gauge): messages waiting in each Celery queue (``LLEN`` of the
  queue's Redis lists, all priority levels).
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db.models import Count
from kombu.transport.redis import PRIORITY_STEPS
from kombu.transport.redis import Channel as RedisChannel
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from .redis_client import redis_client

logger = logging.getLogger(__name__)

QUEUES = ("jobs", "schedules", "webhooks")
LATENESS_KEY = "jobserver:metrics:fire_lateness"
LATENESS_SEEN_PREFIX = "jobserver:metrics:fire_lateness:seen:"
# Seconds. Beat's tick is ~0.5 s, so most fires land in the first buckets; minutes mean trouble.
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def queue_lists(queue: str) -> list[str]:
    """The Redis lists kombu keeps for ``queue``: the plain list (priority step 0) and one per other
    step of ``CELERY_BROKER_TRANSPORT_OPTIONS["priority_steps"]``, named queue + sep + step
    (kombu.transport.redis ``Channel._q_for_pri``; kombu's default steps are 0, 3, 6, 9)."""
    steps = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("priority_steps", PRIORITY_STEPS)
    return [f"{queue}{RedisChannel.sep}{step}" if step else queue for step in steps]


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Messages waiting in each of :data:`QUEUES`, all priority lists, in one pipelined round trip.
    Raises ``redis.RedisError`` when Redis does not answer."""
    pipe = client.pipeline(transaction=False)
    for queue in QUEUES:
        for name in queue_lists(queue):
            pipe.llen(name)
    lengths = iter(pipe.execute())
    return {queue: sum(next(lengths) for _ in queue_lists(queue)) for queue in QUEUES}


def _redis() -> redis.Redis:
    return redis_client(timeout_s=1.0)


def observe_fire_lateness(*, job_id: int, seconds: float, client: redis.Redis | None = None) -> bool:
    """Count one scheduled job's lateness (seconds, >= 0) once; returns False if already counted."""
    client = client or _redis()
    if not client.set(f"{LATENESS_SEEN_PREFIX}{job_id}", 1, nx=True, ex=86400):
        return False
    seconds = max(0.0, seconds)
    pipe = client.pipeline(transaction=True)
    for bound in LATENESS_BUCKETS:
        if seconds <= bound:
            pipe.hincrby(LATENESS_KEY, repr(bound), 1)
    pipe.hincrby(LATENESS_KEY, "count", 1)
    pipe.hincrbyfloat(LATENESS_KEY, "sum", seconds)
    pipe.execute()
    return True


class JobServerCollector:
    """Reads the series listed in the module docstring at each scrape."""

    def collect(self):
        yield self._jobs()
        yield self._schedules()
        yield from self._redis_series(_redis())  # the process's shared client: never closed here
        deliveries = self._deliveries()
        if deliveries is not None:
            yield deliveries

    @staticmethod
    def _jobs():
        from jobs.models import Job

        family = GaugeMetricFamily(
            "jobserver_jobs", "Jobs stored, by state and handler.", labels=["state", "handler"]
        )
        for row in Job.objects.order_by().values("state", "name").annotate(n=Count("id")):
            family.add_metric([row["state"], row["name"]], row["n"])
        return family

    @staticmethod
    def _schedules():
        from scheduling.models import Schedule

        family = GaugeMetricFamily("jobserver_schedules", "Schedules, by state.", labels=["state"])
        for row in Schedule.objects.order_by().values("state").annotate(n=Count("id")):
            family.add_metric([row["state"]], row["n"])
        return family

    @staticmethod
    def _redis_series(client: redis.Redis):
        try:
            depths = queue_depths(client)
            lateness = client.hgetall(LATENESS_KEY)
        except redis.RedisError:
            logger.warning("metrics: Redis unreachable; queue depths and fire lateness left out")
            return
        depth = GaugeMetricFamily(
            "jobserver_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
        )
        for queue, waiting in depths.items():
            depth.add_metric([queue], waiting)
        yield depth
        values = {key.decode() if isinstance(key, bytes) else key: value for key, value in lateness.items()}
        buckets = [(repr(bound), int(values.get(repr(bound), 0))) for bound in LATENESS_BUCKETS]
        buckets.append(("+Inf", int(values.get("count", 0))))
        yield HistogramMetricFamily(
            "jobserver_fire_lateness_seconds",
            "Seconds from a scheduled job's nominal fire time to the start of its first run.",
            buckets=buckets,
            sum_value=float(values.get("sum", 0.0)),
        )

    @staticmethod
    def _deliveries():
        from django.apps import apps

        try:
            delivery = apps.get_model("webhooks", "Delivery")
        except LookupError:
            return None
        field = next((n for n in ("status", "state", "outcome") if _has_field(delivery, n)), None)
        if field is None:
            return None
        family = GaugeMetricFamily(
            "jobserver_webhook_deliveries", "Webhook deliveries, by state.", labels=["state"]
        )
        for row in delivery.objects.order_by().values(field).annotate(n=Count("pk")):
            family.add_metric([str(row[field])], row["n"])
        return family


def _has_field(model, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True


registry = CollectorRegistry(auto_describe=False)
registry.register(JobServerCollector())
