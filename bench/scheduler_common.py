"""Shared set-up of the scheduling benchmarks (issue 4): Django, bulk schedules, real celery processes.

Benchmarks create their schedules directly through the ORM (``bulk_create`` of ``Schedule`` rows and
of their ``PeriodicTask`` projection, the field values ``services.schedule_create`` writes),
because 100,000 API calls would measure the API, not the scheduler. Everything else (beat, the
``schedules`` and ``jobs`` queues, the worker) is the real thing, started as separate processes.

Environment: ``DATABASE_URL`` (PostgreSQL for the scale runs), ``REDIS_URL`` (a DB of your own;
the benchmark flushes it).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# DEBUG stays off (it would keep every SQL query in memory); a throwaway key for the bench processes only.
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks  # noqa: E402

from jobs.models import Job  # noqa: E402
from scheduling import timing  # noqa: E402
from scheduling.cron import celery_crontab_fields  # noqa: E402
from scheduling.models import Schedule, ScheduleKind  # noqa: E402
from scheduling.projection import FIRE_TASK, _interval_projection  # noqa: E402
from tests.conftest import Process as Proc  # noqa: E402  (the test suite's real-process helper)
from tests.conftest import _ready  # noqa: E402


def load() -> str:
    """The machine's load averages, printed beside every figure (2 shared cores)."""
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def reset(username: str = "bench") -> object:
    """Migrate, flush the Redis DB, delete previous bench schedules/jobs; return the bench user."""
    call_command("migrate", verbosity=0)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    user, _ = get_user_model().objects.get_or_create(username=username)
    # Raw deletes: the ORM's collector would send a delete signal per PeriodicTask row (minutes at 100k).
    for qs in (
        Job.objects.filter(owner=user),
        Schedule.objects.filter(owner=user),
        PeriodicTask.objects.filter(name__startswith="schedule:"),
    ):
        qs._raw_delete(qs.db)
    PeriodicTasks.update_changed()
    return user


def bulk_schedules(
    user, n: int, *, cron: str | None = None, every_ms: int | None = None, anchor=None, batch: int = 5000
) -> list[int]:
    """Create ``n`` active schedules of handler ``echo`` (cron or anchored interval) plus projections."""
    now = datetime.now(UTC)
    # One timing row for the whole batch (the service gives each task its own; beat reads neither),
    # and no projection where django-celery-beat cannot state the timing (a seconds cron), as the service.
    columns = celery_crontab_fields(cron) if cron else None
    projected = None if cron else _interval_projection(every_ms)
    crontab = CrontabSchedule.objects.create(**columns, timezone="UTC") if columns else None
    interval = IntervalSchedule.objects.create(every=projected[0], period=projected[1]) if projected else None
    probe = Schedule(
        owner=user,
        name="echo",
        kind=ScheduleKind.CRON if cron else ScheduleKind.EVERY,
        cron_expression=cron or "",
        every_ms=every_ms,
        anchor_at=anchor or now,
    )
    first = timing.next_fire(probe, after=now) if cron else (anchor or now)
    ids: list[int] = []
    for start in range(0, n, batch):
        rows = [
            Schedule(
                owner=user,
                name="echo",
                data={"i": i},
                kind=probe.kind,
                cron_expression=probe.cron_expression,
                every_ms=every_ms,
                anchor_at=probe.anchor_at,
                next_fire_at=first,
            )
            for i in range(start, min(n, start + batch))
        ]
        Schedule.objects.bulk_create(rows)
        tasks = [
            PeriodicTask(
                name=f"schedule:{r.pk}",
                task=FIRE_TASK,
                args=json.dumps([r.pk]),
                queue="schedules",
                crontab=crontab,
                interval=interval,
                description=f"{user.pk}:{r.scheduler_id}",
            )
            for r in rows
            if crontab or interval
        ]
        if tasks:
            PeriodicTask.objects.bulk_create(tasks)
            for r, t in zip(rows, tasks, strict=True):
                r.periodic_task = t
            Schedule.objects.bulk_update(rows, ["periodic_task"])
        ids += [r.pk for r in rows]
    PeriodicTasks.update_changed()
    return ids


def worker(concurrency: int = 2, queues: str = "jobs,schedules", name: str = "worker") -> Proc:
    p = Proc(
        [
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-n",
            f"bench-{name}@%h",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        name,
    )
    time.sleep(0.5)
    return p


def beat() -> Proc:
    p = Proc(
        ["beat", "--loglevel", "INFO", "--pidfile=", "-s", str(BASE_DIR / "var" / "bench-beat.db")], "beat"
    )
    _ready(p, "is now the leader", 60)
    return p


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def summary(values_ms: list[float]) -> str:
    if not values_ms:
        return "no samples"
    return (
        f"n={len(values_ms)} p50={pct(values_ms, 50):.1f} ms p95={pct(values_ms, 95):.1f} ms "
        f"p99={pct(values_ms, 99):.1f} ms max={max(values_ms):.1f} ms "
        f"mean={statistics.fmean(values_ms):.1f} ms"
    )
