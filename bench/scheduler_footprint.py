"""Beat's resident memory and idle CPU with N schedules loaded (none due during the measurement).

usage: python bench/scheduler_footprint.py <schedules=100000> [seconds=30]

Schedules are ``0 0 1 1 *`` (next fire next New Year) so beat is idle between fires; idle CPU is
(utime + stime) of the beat process over the window / window, as % of one core.
"""

import os
import sys
import time

from scheduler_common import beat, bulk_schedules, load, reset


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    user = reset()
    t0 = time.monotonic()
    bulk_schedules(user, n, cron="0 0 1 1 *")
    print(f"created {n} schedules (ORM bulk) in {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    b = beat()
    print(f"beat leader after {time.monotonic() - t0:.1f} s")
    try:
        time.sleep(5)
        pid = b.proc.pid
        c0, w0 = cpu_s(pid), time.monotonic()
        time.sleep(seconds)
        c1, w1 = cpu_s(pid), time.monotonic()
        cpu = (c1 - c0) / (w1 - w0) * 100
        window = w1 - w0
        rss = rss_mb(pid)
        print(f"schedules={n} beat RSS={rss:.0f} MB idle CPU={cpu:.2f}% of a core over {window:.0f} s")
        print(f"[{load()}]")
    finally:
        b.stop()


if __name__ == "__main__":
    main()
