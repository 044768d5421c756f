"""Celery beat's scheduler class: ``celery -A config beat`` (set by ``CELERY_BEAT_SCHEDULER``).

A subclass of django-celery-beat's ``DatabaseScheduler``. System periodic tasks (maintenance) run
as in the stock scheduler; the periodic hooks apps register (``config.periodic``) run every tick.
``Schedule`` rows are not loaded as one entry each (stock beat re-reads
every task on any change and holds them all in memory); each tick instead asks the database for
the schedules whose indexed ``next_fire_at`` is due and dispatches them in batches, so a change is
honoured by the next tick and memory does not grow with the number of schedules.

Only one beat works at a time: each holds a leader lock in Redis, renewed every tick; a standby
takes over within ``BEAT_LEADER_TTL_S`` of the leader's death.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import redis
from django.conf import settings
from django.db import close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler
from redis.exceptions import LockError, RedisError

from config.periodic import PeriodicRunner

from . import firing

logger = logging.getLogger(__name__)

LEADER_KEY = "jobserver:beat:leader"


class ScheduleScheduler(DatabaseScheduler):
    """Beat scheduler: stock entries for system tasks plus batched dispatch of due ``Schedule`` rows."""

    def __init__(self, *args, **kwargs):
        from config.celery import use_persistent_connections

        use_persistent_connections()  # before the stock scheduler's first query (config/celery.py)
        self._lock = None
        self._is_leader = False
        self._hooks = PeriodicRunner()
        super().__init__(*args, **kwargs)
        self._redis = redis.Redis.from_url(settings.REDIS_URL)
        self._identity = f"{socket.gethostname()}:{os.getpid()}"
        self.max_interval = min(self.max_interval, settings.BEAT_MAX_SLEEP_S)

    def enabled_models_qs(self):
        # Schedule projections are dispatched by tick() from the Schedule table, not as entries.
        return super().enabled_models_qs().filter(job_schedule__isnull=True)

    def _hold_leadership(self) -> bool:
        try:
            if self._lock is None:
                self._lock = self._redis.lock(
                    LEADER_KEY, timeout=settings.BEAT_LEADER_TTL_S, blocking=False, thread_local=False
                )
            if self._is_leader:
                self._lock.reacquire()
            else:
                self._is_leader = self._lock.acquire(token=self._identity.encode())
                if self._is_leader:
                    logger.info("beat %s is now the leader", self._identity)
        except LockError:
            logger.warning("beat %s lost the leader lock", self._identity)
            self._is_leader = False
        except RedisError:
            logger.warning("beat %s cannot reach Redis", self._identity, exc_info=True)
            self._is_leader = False
        return self._is_leader

    def tick(self, *args, **kwargs) -> float:
        """One beat iteration; returns the seconds to sleep (at most ``BEAT_MAX_SLEEP_S``).

        A standby only polls for the lock (every ``BEAT_LEADER_TTL_S / 5`` s, at most 1 s). The
        leader renews its lock every tick and between dispatch batches, so a long catch-up never
        lets the lock lapse while it still works.
        """
        if not self._hold_leadership():
            return min(1.0, settings.BEAT_LEADER_TTL_S / 5)
        system_sleep = super().tick(*args, **kwargs)
        close_old_connections()
        try:
            self._dispatch_due()
            schedule_sleep = firing.seconds_until_next_fire(cap=self.max_interval)
        except Exception:
            logger.exception("dispatching due schedules failed; retrying next tick")
            schedule_sleep = 1.0
        # The other apps' periodic work (config.periodic: jobs' promoter and reconciler, ...).
        schedule_sleep = min(schedule_sleep, self._hooks.run_due(cap=self.max_interval))
        return max(0.0, min(system_sleep, schedule_sleep))

    def _dispatch_due(self) -> None:
        """Dispatch every due schedule in batches, renewing the lock between batches; logs the count."""
        batch, total, started = settings.BEAT_BATCH_SIZE, 0, time.monotonic()
        while True:
            sent = firing.schedules_dispatch_due(batch_size=batch)
            total += sent
            if sent < batch or not self._hold_leadership():
                break
        if total:
            level = logging.INFO if total >= batch else logging.DEBUG
            logger.log(level, "dispatched %d fires in %.3f s", total, time.monotonic() - started)

    def close(self) -> None:
        if self._is_leader and self._lock is not None:
            try:
                self._lock.release()
            except (LockError, RedisError):
                pass
        super().close()
