"""Change-to-effect with N schedules loaded: how soon beat honours a PATCH or a DELETE.

usage: python bench/scheduler_change.py <loaded_schedules=100000> [trials=10]

Changes are made with the same service functions the API views call (``schedule_update``,
``schedule_delete``). PATCH: a probe schedule whose next fire is an hour away is patched to
``{at: now + 1 s}``; effect = its job's ``created_at`` - the requested instant (beat noticed the change
and fired on time). DELETE: a probe firing every second is deleted; any job created after the
DELETE returned counts as "not honoured".
"""

import sys
import time
from datetime import UTC, datetime, timedelta

from scheduler_common import Job, Schedule, beat, bulk_schedules, load, reset, summary, worker

from scheduling import services


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    loaded = Schedule.objects.filter(owner__username="bench", cron_expression="0 0 1 1 *")
    if loaded.count() == n:  # reuse the rows of a previous run (creating 100,000 takes ~2.5 min here)
        user = loaded.first().owner
        for qs in (
            Job.objects.filter(owner=user),
            Schedule.objects.filter(owner=user).exclude(pk__in=loaded),
        ):
            qs._raw_delete(qs.db)
    else:
        user = reset()
        bulk_schedules(user, n, cron="0 0 1 1 *")
    w = worker(2)
    b = beat()
    patch_ms: list[float] = []
    late_jobs = 0
    try:
        for trial in range(trials):
            later = iso(datetime.now(UTC) + timedelta(hours=1))
            probe = services.schedule_create(
                owner=user,
                name="echo",
                data={},
                schedule={"repeat": {"every": 3_600_000}, "startDate": later},
            )
            target = datetime.now(UTC) + timedelta(seconds=1)
            services.schedule_update(
                schedule=probe, changes={"schedule": {"at": iso(target), "startDate": None}}
            )
            deadline = time.monotonic() + 10
            job = None
            while job is None and time.monotonic() < deadline:
                time.sleep(0.05)
                job = Job.objects.filter(schedule=probe).first()
            patch_ms.append((job.created_at - target).total_seconds() * 1000 if job else float("inf"))

            ticking = services.schedule_create(
                owner=user, name="echo", data={"probe": trial}, schedule={"repeat": {"every": 1000}}
            )
            time.sleep(1.6)
            services.schedule_delete(schedule=ticking)
            deleted_at = datetime.now(UTC)
            time.sleep(2)
            # its jobs are kept, unlinked (schedule = NULL); find them by their data
            late_jobs += Job.objects.filter(data__probe=trial, created_at__gt=deleted_at).count()
    finally:
        b.stop()
        w.stop()
    print(f"loaded={n} PATCH -> fired at the new time, delay beyond it: {summary(patch_ms)}   [{load()}]")
    print(f"DELETE: {late_jobs} job(s) created after {trials} DELETEs returned (0 = honoured at once)")


if __name__ == "__main__":
    main()
