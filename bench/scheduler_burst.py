"""Many schedules due at the same instant: N cron ``* * * * *`` schedules, one minute boundary.

usage: python bench/scheduler_burst.py <schedules=10000> [worker_concurrency=4] [timeout_s=240]

Prints where the time goes, all measured from the minute boundary B: beat's dispatch (from its
log), the last job row inserted (``max(created_at) - B``), and the last job ``active``
(``max(started_at) - B``), which is the figure compared with BullMQ's "last started".
Run it on PostgreSQL.
"""

import re
import sys
import time
from datetime import UTC, datetime, timedelta

from scheduler_common import Job, Schedule, beat, bulk_schedules, load, pct, reset, worker


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 240
    user = reset()
    t0 = time.monotonic()
    bulk_schedules(user, n, cron="* * * * *")
    print(f"created {n} schedules (ORM bulk) in {time.monotonic() - t0:.1f} s")
    boundary = Schedule.objects.filter(owner=user).values_list("next_fire_at", flat=True).first()
    if (boundary - datetime.now(UTC)).total_seconds() < 20:
        boundary += timedelta(minutes=1)
        Schedule.objects.filter(owner=user).update(next_fire_at=boundary)
    w = worker(concurrency)
    b = beat()
    wait_s = (boundary - datetime.now(UTC)).total_seconds()
    print(f"waiting for the boundary {boundary:%H:%M:%S} ({wait_s:.0f} s)")
    jobs = Job.objects.filter(owner=user, fire_at=boundary)
    deadline = boundary + timedelta(seconds=timeout)
    started = 0
    try:
        while datetime.now(UTC) < deadline:
            time.sleep(1)
            started = jobs.filter(started_at__isnull=False).count()
            if started >= n:
                break
    finally:
        b.stop()
        w.stop()
    log = b.log_path.read_text()
    dispatched = [(int(a), float(c)) for a, c in re.findall(r"dispatched (\d+) fires in ([\d.]+) s", log)]
    created = [(c - boundary).total_seconds() for c in jobs.values_list("created_at", flat=True)]
    starts = [
        (s - boundary).total_seconds()
        for s in jobs.exclude(started_at=None).values_list("started_at", flat=True)
    ]
    print(f"schedules={n} jobs={len(created)} started={len(starts)}   [{load()}]")
    if dispatched:
        fires, spent = sum(a for a, _ in dispatched), sum(c for _, c in dispatched)
        print(f"beat dispatch: {fires} fires in {spent:.2f} s of ticks")
    if created:
        print(f"jobs inserted: first {min(created):.2f} s, last {max(created):.2f} s after the boundary")
    if starts:
        print(f"jobs active: p50 {pct(starts, 50):.2f} s, last {max(starts):.2f} s after the boundary")


if __name__ == "__main__":
    main()
