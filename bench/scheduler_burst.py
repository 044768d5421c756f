"""Many schedules due at the same instant: N cron ``* * * * *`` schedules, one minute boundary.

usage: python bench/scheduler_burst.py <schedules=10000> [worker_concurrency=4] [timeout_s=240]

Prints where the time goes, all measured from the minute boundary B: beat's dispatch (from its
log), the last job row inserted (``max(created_at) - B``), and the last job ``active``
(``max(started_at) - B``), which is the figure compared with BullMQ's "last started".
Run it on PostgreSQL. ``wait_started`` and ``burst_figures`` also serve bench/side_by_side.py.
"""

import re
import sys
import time
from datetime import UTC, datetime, timedelta

from scheduler_common import Job, Schedule, beat, bulk_schedules, load, pct, reset, worker


def wait_started(jobs, n: int, deadline: datetime) -> int:
    """Poll once a second until ``n`` of ``jobs`` (a queryset) have started or ``deadline`` (UTC)."""
    started = 0
    while datetime.now(UTC) < deadline:
        time.sleep(1)
        started = jobs.filter(started_at__isnull=False).count()
        if started >= n:
            break
    return started


def burst_figures(jobs, boundary: datetime, beat_log: str = "") -> dict:
    """Seconds from ``boundary`` of the rows inserted and started among ``jobs`` (a queryset of the
    boundary's jobs): ``jobs``, ``started``, ``inserted_first_s``/``inserted_last_s``, ``p50_s``/
    ``last_s`` (None when there are none), and beat's dispatch (fires, seconds of ticks) from its
    INFO log lines ``dispatched N fires in S s`` when ``beat_log`` has them."""
    created = [(c - boundary).total_seconds() for c in jobs.values_list("created_at", flat=True)]
    starts = [
        (s - boundary).total_seconds()
        for s in jobs.exclude(started_at=None).values_list("started_at", flat=True)
    ]
    found = re.findall(r"dispatched (\d+) fires in ([\d.]+) s", beat_log)
    dispatched = [(int(a), float(c)) for a, c in found]
    return {
        "jobs": len(created),
        "started": len(starts),
        "inserted_first_s": min(created, default=None),
        "inserted_last_s": max(created, default=None),
        "p50_s": pct(starts, 50) if starts else None,
        "last_s": max(starts, default=None),
        "dispatch": (sum(a for a, _ in dispatched), sum(c for _, c in dispatched)) if dispatched else None,
    }


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
    try:
        wait_started(jobs, n, boundary + timedelta(seconds=timeout))
    finally:
        b.stop()
        w.stop()
    f = burst_figures(jobs, boundary, b.log_path.read_text())
    print(f"schedules={n} jobs={f['jobs']} started={f['started']}   [{load()}]")
    if f["dispatch"]:
        print(f"beat dispatch: {f['dispatch'][0]} fires in {f['dispatch'][1]:.2f} s of ticks")
    if f["jobs"]:
        first, last = f["inserted_first_s"], f["inserted_last_s"]
        print(f"jobs inserted: first {first:.2f} s, last {last:.2f} s after the boundary")
    if f["started"]:
        print(f"jobs active: p50 {f['p50_s']:.2f} s, last {f['last_s']:.2f} s after the boundary")


if __name__ == "__main__":
    main()
