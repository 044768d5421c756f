"""Fire lateness: nominal fire time → job ``active`` in a worker (``job.started_at - job.fire_at``).

usage: python bench/scheduler_lateness.py <schedules=1> <seconds=30> [every_ms=1000] [worker_concurrency=2]

All schedules are anchored on the same whole second, so with N schedules every 1 s, N fires are due
at the same instant each second (as BullMQ aligns ``every`` on epoch multiples). The first 3 s are
warm-up and not counted. ``lateness_figures`` also serves bench/side_by_side.py.
"""

import sys
import time
from datetime import UTC, datetime, timedelta

from scheduler_common import Job, beat, bulk_schedules, load, reset, summary, worker


def lateness_figures(user, start: datetime, end: datetime, expected: int, started_before=None) -> dict:
    """The jobs of ``user`` whose fire time is in [start, end): ``expected`` (passed through), ``jobs``,
    ``started`` (only those started before ``started_before``, UTC, when given) and ``late_ms`` (their
    started_at - fire_at, ms)."""
    rows = Job.objects.filter(owner=user, fire_at__gte=start, fire_at__lt=end)
    pairs = [(s, f) for s, f in rows.values_list("started_at", "fire_at") if s]
    if started_before is not None:
        pairs = [(s, f) for s, f in pairs if s < started_before]
    return {
        "expected": expected,
        "jobs": rows.count(),
        "started": len(pairs),
        "late_ms": [(s - f).total_seconds() * 1000 for s, f in pairs],
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    every_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    user = reset()
    w = worker(concurrency)
    time.sleep(4)
    anchor = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    bulk_schedules(user, n, every_ms=every_ms, anchor=anchor)
    b = beat()
    start = anchor + timedelta(seconds=3)
    end = start + timedelta(seconds=seconds)
    try:
        while datetime.now(UTC) < end + timedelta(seconds=3):
            time.sleep(0.5)
    finally:
        b.stop()
    time.sleep(2)
    f = lateness_figures(user, start, end, n * int(seconds * 1000 / every_ms))
    w.stop()
    print(
        f"schedules={n} every={every_ms} ms window={seconds} s expected_fires={f['expected']} "
        f"jobs={f['jobs']} not_started={f['jobs'] - f['started']}"
    )
    print(f"lateness (fire_at -> active): {summary(f['late_ms'])}   [{load()}]")


if __name__ == "__main__":
    main()
