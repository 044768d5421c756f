"""Issue 14's targets, BullMQ and ours side by side in one run (``make bench``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jobserver_bench make bench [BENCH_ARGS="--quick"]
    .venv/bin/python bench/side_by_side.py [--quick] [--only burst,http] [--heavy]
        [--redis redis://127.0.0.1:6379] [--our-db 9] [--bullmq-db 10]

``--redis`` defaults to ``REDIS_URL``'s server (else 127.0.0.1:6379); the database numbers are the
benchmark's own: ``--our-db`` (9) and ``--bullmq-db`` (10), both FLUSHED.

Workloads (``--only`` takes these names; each runs BullMQ first, then ours, one after the other, and
prints the machine's load, ``os.getloadavg()``, before and after each side):

- ``burst``: 10,000 cron ``* * * * *`` schedules due at one minute boundary B: seconds from B until
  the last job is active (and the p50). Target: ours no later than BullMQ's.
- ``burst100k`` (only with ``--heavy`` or ``--only``): the same with 100,000, plus the peak resident
  memory (``VmHWM``) of our beat and of each worker process. Target: no later than BullMQ, < 300 MB.
- ``every``: 1,000 schedules every 1 s for 60 s: fires started by the window's end + 10 s against
  the fires expected, p99 lateness. Target: every fire runs; our p99 no higher than BullMQ's.
- ``bulk``: 20,000 ``echo`` jobs through ``POST /jobs/submit/bulk`` (1,000 per request), first
  request → last completed, jobs/s, against BullMQ ``addBulk`` with worker concurrency 1. Target: at
  least BullMQ's rate. On a server without the route (404) the row says "n/a (no bulk route)".
- ``http``: ``echo`` jobs through single ``POST /jobs/submit`` requests (8 keep-alive clients) to the
  real server, jobs/s, against raw Celery no-op tasks/s (``bench/raw_celery.py``: sent one by one, a
  ``celery worker -Q jobs`` with the stack's concurrency) in the same run; BullMQ's ``queue.add`` one
  at a time (concurrency 1) is shown beside. Target: at least 50% of raw Celery's rate.
- ``lateness``: 1 schedule every 1 s for 60 s: p99 lateness beside BullMQ's. Target: ≤ 25 ms.

``--quick`` shrinks every size (a check that the harness works, not figures to quote).

Ours is ``make run``'s processes (``config.devstack.LiveStack``: uvicorn, the ``jobs,schedules``
worker with ``WORKER_CONCURRENCY`` (4) prefork children, the webhooks worker and beat), started
afresh for each workload on ``DATABASE_URL`` (PostgreSQL) and Redis database ``--our-db``, with
production settings over plain HTTP (``DEBUG=0``, ``SECURE_SSL_REDIRECT=0``) and ``LOG_LEVEL=WARNING``
(no log line per task); schedules are bulk-created through the ORM (``bench/scheduler_common.py``).
BullMQ is ``bench/bullmq/bench.js`` (Node; ``bullmq`` from npm, installed on first run) on database
``--bullmq-db`` of the same Redis server; its worker runs in that Node process, its processors do
nothing. Lateness = job started (our ``started_at``, BullMQ's processor start) - scheduled fire time.

Both Redis databases are FLUSHED, and every job of ``DATABASE_URL``'s database is deleted: give the
benchmark databases of its own (``jobserver_bench``; Redis 9 and 10 by default). The table is printed
as Markdown and the raw figures saved in ``var/bench-side-by-side.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
BULLMQ_SCRIPT = BASE_DIR / "bench" / "bullmq" / "bench.js"
WORKLOADS = ("burst", "burst100k", "every", "bulk", "http", "lateness")
DEFAULT_WORKLOADS = ("burst", "every", "bulk", "http", "lateness")
SIZES = {  # workload: (full sizes, --quick sizes)
    "burst": ({"n": 10000, "timeout": 150}, {"n": 1000, "timeout": 60}),
    "burst100k": ({"n": 100000, "timeout": 300}, {"n": 10000, "timeout": 150}),
    "every": ({"n": 1000, "seconds": 60, "grace": 10}, {"n": 100, "seconds": 10, "grace": 5}),
    "bulk": ({"n": 20000, "chunk": 1000}, {"n": 2000, "chunk": 1000}),
    "http": ({"n": 5000, "clients": 8}, {"n": 500, "clients": 8}),
    "lateness": ({"n": 1, "seconds": 60, "grace": 10}, {"n": 1, "seconds": 15, "grace": 5}),
}
LATENESS_TARGET_MS = 25
RSS_TARGET_MB = 300
HTTP_TARGET_OF_RAW = 0.5


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def load() -> str:
    """The machine's 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# --- pure parts (tests/bench/test_side_by_side.py) --------------------------------------------------


def with_db(url: str, db: int) -> str:
    """``url`` (``redis://host:port[/n]``) pointing at database ``db``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def last_json(stdout: str) -> dict:
    """The last line of ``stdout`` that is a JSON object (bench.js prints its result so)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON result in the output: {stdout[-500:]!r}")


def next_boundary(now: datetime, lead_s: float) -> datetime:
    """The first whole minute at least ``lead_s`` seconds after ``now`` (UTC)."""
    boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while (boundary - now).total_seconds() < lead_s:
        boundary += timedelta(minutes=1)
    return boundary


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, or None when either is missing (or theirs is 0)."""
    if ours is None or not theirs:
        return None
    return ours / theirs


def p99(values: list[float]) -> float | None:
    """Nearest-rank 99th percentile (as bench.js computes BullMQ's), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-99 * len(ordered) // 100) - 1))]


@dataclass
class Row:
    """One line of the table: the figures as text, ``ratio`` = ours / BullMQ (or / the row's baseline),
    ``met`` None when the target cannot be judged (e.g. no bulk route)."""

    workload: str
    bullmq: str
    ours: str
    ratio: str
    target: str
    met: bool | None
    load: str = ""


def _met(flag: bool | None) -> str:
    return "n/a" if flag is None else ("yes" if flag else "**no**")


def _x(value: float | None, prefix: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{prefix}{value:.{digits}f}"


def burst_row(n: int, timeout: float, theirs: dict, ours: dict, rss: dict | None = None) -> Row:
    """Row of ``burst``/``burst100k``: ``theirs`` is bench.js's result, ``ours`` burst_figures()' plus
    ``n``; ``rss`` maps process kind → peak MB per process (beat, worker) for the 100k target."""
    theirs_done = not theirs.get("timed_out") and theirs.get("last_s") is not None
    ours_done = ours["started"] >= n and ours["last_s"] is not None
    bullmq = f"{theirs['last_s']:.2f} s (p50 {theirs['p50_s']:.2f})" if theirs_done else (
        f"> {timeout:.0f} s ({theirs.get('started', 0):,} of {n:,} active)"
    )
    if ours_done:
        text = f"{ours['last_s']:.2f} s (p50 {ours['p50_s']:.2f}"
        r = ratio(ours["last_s"], theirs.get("last_s")) if theirs_done else None
        ratio_text = _x(r)
    else:
        text = f"> {timeout:.0f} s ({ours['started']:,} of {n:,} active"
        r = ratio(timeout, theirs.get("last_s")) if theirs_done else None
        ratio_text = _x(r, "> ")
    if ours.get("inserted_last_s") is not None:
        text += f"; {ours['jobs']:,} rows inserted by {ours['inserted_last_s']:.2f} s"
    text += ")"
    met = ours_done and theirs_done and ours["last_s"] <= theirs["last_s"]
    target = "ratio ≤ 1.0"
    if rss is not None:
        text += "; peak RSS " + ", ".join(f"{kind} {mb:.0f} MB" for kind, mb in sorted(rss.items()))
        bullmq += f"; Node RSS {theirs.get('rss_mb', 0):.0f} MB"
        met = met and bool(rss) and max(rss.values()) < RSS_TARGET_MB
        target += f", each process < {RSS_TARGET_MB} MB"
    return Row(f"{n:,} cron `* * * * *` due at one minute: last active after", bullmq, text, ratio_text,
               target, met)


def every_row(label: str, theirs: dict, ours: dict, *, p99_target_ms: float | None = None) -> Row:
    """Row of ``every``/``lateness``: ``ours`` is lateness_figures()' result. With ``p99_target_ms`` the
    target is an absolute p99 (the 1-schedule row), else our p99 no higher than BullMQ's; every fire
    expected must have started in both cases."""
    ours_p99 = p99(ours["late_ms"])
    theirs_p99 = theirs.get("p99_ms")
    bullmq, text = (
        f"p99 {_x(late, digits=0)} ms, {side['started']:,} of {side['expected']:,} fires started"
        for late, side in ((theirs_p99, theirs), (ours_p99, ours))
    )
    if "jobs" in ours:
        text += f" ({ours['jobs']:,} jobs created"
        if "started_any_fire" in ours:
            text += f"; {ours['started_any_fire']:,} started counting warm-up and later fires"
        text += ")"
    all_ran = ours["started"] >= ours["expected"]
    if p99_target_ms is not None:
        target = f"p99 ≤ {p99_target_ms:.0f} ms"
        met = all_ran and ours_p99 is not None and ours_p99 <= p99_target_ms
    else:
        target = "every fire runs; p99 ratio ≤ 1.0"
        met = all_ran and ours_p99 is not None and theirs_p99 is not None and ours_p99 <= theirs_p99
    return Row(label, bullmq, text, _x(ratio(ours_p99, theirs_p99)), target, met)


def bulk_row(n: int, theirs: dict, ours_rate: float | None) -> Row:
    """Row of ``bulk``: ``ours_rate`` jobs/s, None when the server has no bulk route."""
    label = f"{n:,} echo jobs via bulk submit (1,000 per request) → last completed"
    bullmq = f"{theirs['jobs_per_s']:,}/s (addBulk, worker concurrency {theirs['concurrency']})"
    target = "ratio ≥ 1.0"
    if ours_rate is None:
        return Row(label, bullmq, "n/a (no bulk route)", "n/a", target, None)
    r = ratio(ours_rate, theirs["jobs_per_s"])
    return Row(label, bullmq, f"{ours_rate:,.0f}/s", _x(r), target, r is not None and r >= 1.0)


def http_row(theirs: dict, ours_rate: float, raw_rate: float, submit_rate: float | None = None) -> Row:
    """Row of ``http``: the ratio is ours / raw Celery's (the target's baseline), BullMQ shown beside;
    ``submit_rate``: our requests answered per second, shown beside ours."""
    r = ratio(ours_rate, raw_rate)
    return Row(
        "single POST /jobs/submit over HTTP → completed, jobs/s",
        f"{theirs['jobs_per_s']:,}/s (`add` one at a time, concurrency {theirs['concurrency']})",
        f"{ours_rate:,.0f}/s"
        + (f" (requests answered at {submit_rate:,.0f}/s)" if submit_rate else "")
        + f"; raw Celery no-op {raw_rate:,.0f}/s",
        f"{_x(r)} of raw Celery",
        f"≥ {HTTP_TARGET_OF_RAW:.2f} of raw Celery",
        r is not None and r >= HTTP_TARGET_OF_RAW,
    )


def table(rows: list[Row]) -> str:
    """The Markdown table of ``rows``."""
    lines = [
        "| workload | BullMQ | ours | ratio (ours/BullMQ) | target | met? | load (1-min, before → after) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.workload, row.bullmq, row.ours, row.ratio, row.target, _met(row.met), row.load]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- the two sides -----------------------------------------------------------------------------------


class Bench:
    """One run: sizes, Redis URLs, and the processes of each side (see the module's docstring)."""

    def __init__(self, args: argparse.Namespace):
        self.sizes = {workload: pair[1 if args.quick else 0] for workload, pair in SIZES.items()}
        self.bullmq_redis = with_db(args.redis, args.bullmq_db)
        self.loads: list[str] = []
        self.results: dict[str, dict] = {}

    # BullMQ -------------------------------------------------------------------------------------------

    def bullmq(self, workload: str, **params) -> dict:
        """Run bench.js ``workload`` with ``params``; its JSON result."""
        self._load_mark(f"BullMQ {workload}", "before")
        argv = ["node", str(BULLMQ_SCRIPT), workload, *(f"{k}={v}" for k, v in params.items())]
        out = subprocess.run(argv, env=dict(os.environ, REDIS_URL=self.bullmq_redis), stdout=subprocess.PIPE,
                             text=True, check=True, timeout=1800)
        result = last_json(out.stdout)
        self._load_mark(f"BullMQ {workload}", "after")
        say(f"BullMQ {workload}: {json.dumps(result)}")
        return result

    # ours ---------------------------------------------------------------------------------------------

    def stack(self, label: str):
        """``make run``'s processes (not started yet) on a free port with ``STACK_ENV``; log in var/."""
        from config.devstack import LiveStack, _free_port

        return LiveStack(_free_port(), BASE_DIR / "var" / f"bench-{label}.log", **STACK_ENV)

    def ours_burst(self, n: int, timeout: float, rss: bool = False) -> tuple[dict, dict | None]:
        """``n`` cron schedules due at one boundary: (``burst_figures()``, seconds from the boundary;
        the peak RSS per process kind in MB when ``rss``, else None). Waits at most ``timeout`` s."""
        from scheduler_burst import burst_figures, wait_started
        from scheduler_common import Job, Schedule, bulk_schedules

        user = self._reset()
        started = time.monotonic()
        bulk_schedules(user, n, cron="* * * * *")
        # Nothing due while the processes start; the boundary is set once they are up.
        Schedule.objects.filter(owner=user).update(next_fire_at=datetime(2100, 1, 1, tzinfo=UTC))
        say(f"ours: {n:,} schedules created (ORM bulk) in {time.monotonic() - started:.1f} s")
        peaks = None
        with self.stack("burst") as stack:
            boundary = next_boundary(datetime.now(UTC), lead_s=10 + n / 20000)
            Schedule.objects.filter(owner=user).update(next_fire_at=boundary)
            say(f"ours: stack up; boundary {boundary:%H:%M:%S}")
            self._load_mark("ours burst", "before")
            jobs = Job.objects.filter(owner=user, fire_at=boundary)
            wait_started(jobs, n, boundary + timedelta(seconds=timeout))
            if rss:
                peaks = peak_rss_mb(stack.proc.pid)
        self._load_mark("ours burst", "after")
        return burst_figures(jobs, boundary), peaks

    def ours_every(self, n: int, seconds: float, grace: float, every_ms: int = 1000) -> dict:
        """``n`` schedules every ``every_ms`` over a ``seconds`` window: ``lateness_figures()`` counting
        starts until the window's end + ``grace`` s, plus ``started_any_fire`` (a diagnostic)."""
        from scheduler_common import Job, bulk_schedules
        from scheduler_lateness import lateness_figures

        user = self._reset()
        with self.stack("every"):
            self._load_mark("ours every", "before")
            anchor = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3 + n // 500)
            bulk_schedules(user, n, every_ms=every_ms, anchor=anchor)
            start = anchor + timedelta(seconds=3)  # warm-up, as BullMQ's side
            end = start + timedelta(seconds=seconds)
            deadline = end + timedelta(seconds=grace)
            time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()))
            expected = n * int(seconds * 1000 / every_ms)
            figures = lateness_figures(user, start, end, expected, started_before=deadline)
            # Diagnostic: how many jobs (any fire time, warm-up included) the worker had started by then.
            figures["started_any_fire"] = Job.objects.filter(owner=user, started_at__lt=deadline).count()
        self._load_mark("ours every", "after")
        return figures

    def ours_bulk(self, n: int, chunk: int) -> float | None:
        """Jobs/s through POST /jobs/submit/bulk, or None when the route answers 404."""
        import urllib3

        self._reset()
        with self.stack("bulk") as stack:
            user, headers = self._register(stack.base)
            probe = urllib3.request("POST", stack.base + "/jobs/submit/bulk", headers=headers, timeout=60,
                                    body=json.dumps([{"name": "echo", "data": {"warm-up": 0}}]).encode())
            if probe.status == 404:
                say("ours: POST /jobs/submit/bulk answers 404: no bulk route on this server")
                return None
            if probe.status != 201:
                raise SystemExit(f"/jobs/submit/bulk warm-up: {probe.status} {probe.data[:300]!r}")
            self._warm_up(stack.base, headers, user)
            self._load_mark("ours bulk", "before")
            t0 = datetime.now(UTC)
            for first in range(0, n, chunk):
                items = [{"name": "echo", "data": {"i": i}} for i in range(first, min(n, first + chunk))]
                response = urllib3.request("POST", stack.base + "/jobs/submit/bulk", headers=headers,
                                           body=json.dumps(items).encode(), timeout=300)
                if response.status != 201:
                    raise SystemExit(f"/jobs/submit/bulk: {response.status} {response.data[:300]!r}")
            rate = self._drain_rate(user, n, t0)
        self._load_mark("ours bulk", "after")
        return rate

    def ours_http(self, n: int, clients: int) -> tuple[float, float, float]:
        """(our jobs/s through single POST /jobs/submit, raw Celery no-op tasks/s, our submissions/s:
        answered requests alone), in that run."""
        import redis
        from django.conf import settings
        from web_load import Client

        from bench import raw_celery

        self._reset()
        client = redis.Redis.from_url(settings.REDIS_URL)
        concurrency = int(os.environ.get("WORKER_CONCURRENCY", "4"))  # the Procfile's default
        worker = raw_celery.worker(concurrency, "bench-raw")
        try:
            raw_celery.noop.apply_async()
            raw_celery.wait(lambda: raw_celery.queue_empty(client), 120)
            self._load_mark("raw Celery", "before")
            _, raw_s = raw_celery.raw_phase(n, client)
            self._load_mark("raw Celery", "after")
        finally:
            worker.stop()
        with self.stack("http") as stack:
            user, headers = self._register(stack.base)
            self._warm_up(stack.base, headers, user)
            self._load_mark("ours http", "before")
            t0 = datetime.now(UTC)
            threads = [Client(stack.base, headers["Authorization"].split()[1], time.monotonic() + 3600,
                              limit=n // clients + (i < n % clients)) for i in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            submit_rate = n / (datetime.now(UTC) - t0).total_seconds()
            accepted = sum(len(t.job_ids) for t in threads)
            if accepted != n:
                raise SystemExit(f"POST /jobs/submit accepted {accepted} of {n}: "
                                 f"{[dict(t.statuses) for t in threads]} {[dict(t.errors) for t in threads]}")
            rate = self._drain_rate(user, n, t0)
        self._load_mark("ours http", "after")
        return rate, n / raw_s, submit_rate

    # helpers ------------------------------------------------------------------------------------------

    def _reset(self):
        """Flush our Redis database, delete every job of the bench database; the ``bench`` user."""
        from scheduler_common import Job, reset

        user = reset()
        Job.objects.all()._raw_delete(Job.objects.db)
        return user

    def _register(self, base: str) -> tuple[object, dict]:
        from django.contrib.auth import get_user_model
        from web_load import _request

        name = f"bench-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        password = f"Bench-harness-passw0rd-{os.getpid()}"  # not like the name (a password validator)
        token = _request(base, "/auth/register", {"username": name, "password": password})["accessToken"]
        user = get_user_model().objects.get(username=name)
        return user, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _warm_up(self, base: str, headers: dict, user, jobs: int = 20) -> None:
        """A few single submits, completed, so no process pays its first-use costs inside the timing."""
        import urllib3

        from jobs.models import Job

        for i in range(jobs):
            urllib3.request("POST", base + "/jobs/submit", headers=headers, timeout=60,
                            body=json.dumps({"name": "echo", "data": {"warm-up": i}}).encode())
        done = Job.objects.filter(owner=user, state="completed")
        end = time.monotonic() + 120
        while done.count() < jobs and time.monotonic() < end:
            time.sleep(0.2)

    def _drain_rate(self, user, n: int, t0: datetime, timeout: float = 900) -> float:
        """n / (t0 → the last completion) over ``user``'s jobs created since ``t0`` (UTC)."""
        from django.db.models import Max

        from jobs.models import Job

        jobs = Job.objects.filter(owner=user, created_at__gte=t0)
        end = time.monotonic() + timeout
        while jobs.filter(state="completed").count() < n:
            if time.monotonic() > end:
                raise SystemExit(f"timed out: {jobs.filter(state='completed').count()} of {n} completed")
            time.sleep(0.2)
        last = jobs.aggregate(last=Max("finished_at"))["last"]
        return n / (last - t0).total_seconds()

    def _load_mark(self, label: str, when: str) -> None:
        value = load()
        self.loads.append(value.split()[0])
        say(f"{label}: load {when}: {value}")

    def load_span(self, mark: int) -> str:
        """The 1-minute loads recorded since ``mark`` (an index into ``self.loads``)."""
        return " → ".join(self.loads[mark:])


STACK_ENV = {
    "DEBUG": "0",
    "TESTING": "0",
    "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
}


def peak_rss_mb(root_pid: int) -> dict[str, float]:
    """The largest peak resident set (``VmHWM``, MB) of one process, per kind (web, worker, beat, ...),
    over the processes below ``root_pid`` (``make run``'s tree)."""
    from web_load import _descendants, _kind

    peaks: dict[str, float] = {}
    for pid in _descendants(root_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                kind = _kind(pid)
                if kind in ("web", "worker", "beat", "webhooks worker"):
                    peaks[kind] = max(peaks.get(kind, 0.0), int(line.split()[1]) / 1024)
    return peaks


def run(bench: Bench, workload: str) -> Row:
    """Both sides of one workload; its row."""
    size = bench.sizes[workload]
    mark = len(bench.loads)
    say(f"=== {workload} {size} ===")
    if workload in ("burst", "burst100k"):
        theirs = bench.bullmq("burst", n=size["n"], concurrency=100, timeout=size["timeout"])
        ours, rss = bench.ours_burst(size["n"], size["timeout"], rss=workload == "burst100k")
        bench.results[workload] = {"bullmq": theirs, "ours": ours, "rss_mb": rss}
        row = burst_row(size["n"], size["timeout"], theirs, ours, rss)
    elif workload in ("every", "lateness"):
        theirs = bench.bullmq("every", n=size["n"], seconds=size["seconds"], every=1000, concurrency=100,
                              grace=size["grace"])
        ours = bench.ours_every(size["n"], size["seconds"], size["grace"])
        kept = {k: v for k, v in ours.items() if k != "late_ms"}
        bench.results[workload] = {"bullmq": theirs, "ours": kept, "ours_p99_ms": p99(ours["late_ms"])}
        plural = "s" if size["n"] > 1 else ""
        label = f"{size['n']:,} schedule{plural} every 1 s for {size['seconds']} s: lateness"
        target_ms = LATENESS_TARGET_MS if workload == "lateness" else None
        row = every_row(label, theirs, ours, p99_target_ms=target_ms)
    elif workload == "bulk":
        theirs = bench.bullmq("bulk", n=size["n"], concurrency=1, chunk=size["chunk"])
        ours = bench.ours_bulk(size["n"], size["chunk"])
        bench.results[workload] = {"bullmq": theirs, "ours_jobs_per_s": ours}
        row = bulk_row(size["n"], theirs, ours)
    else:
        theirs = bench.bullmq("single", n=size["n"], concurrency=1)
        ours, raw, submits = bench.ours_http(size["n"], size["clients"])
        bench.results[workload] = {"bullmq": theirs, "ours_jobs_per_s": ours, "raw_celery_per_s": raw,
                                   "ours_requests_per_s": submits}
        row = http_row(theirs, ours, raw, submits)
    row.load = bench.load_span(mark)
    say(f"row: {row}")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a check of the harness")
    parser.add_argument("--only", default="", help=f"comma list of workloads: {', '.join(WORKLOADS)}")
    parser.add_argument("--heavy", action="store_true", help="add burst100k (100,000 schedules)")
    parser.add_argument(
        "--redis",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
        help="the Redis server both sides use (default: REDIS_URL's server); its database number is ignored",
    )
    parser.add_argument("--our-db", type=int, default=9, help="our Redis database number (flushed)")
    parser.add_argument("--bullmq-db", type=int, default=10, help="BullMQ's Redis database number (flushed)")
    args = parser.parse_args(argv)
    chosen = [w.strip() for w in args.only.split(",") if w.strip()] or [
        *DEFAULT_WORKLOADS, *(["burst100k"] if args.heavy else [])
    ]
    unknown = sorted(set(chosen) - set(WORKLOADS))
    if unknown:
        parser.error(f"--only: unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    if args.our_db == args.bullmq_db:
        parser.error("--our-db and --bullmq-db must differ")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL database of the benchmark's own (jobserver_bench)")
    os.environ["REDIS_URL"] = with_db(args.redis, args.our_db)
    sys.path.insert(0, str(BASE_DIR / "bench"))
    sys.path.insert(0, str(BASE_DIR))
    import scheduler_common  # noqa: F401  (django.setup() with the environment above)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=BASE_DIR,
                           capture_output=True, text=True).stdout.strip()
    header = (f"commit {commit}{' (with local changes)' if dirty else ''}, "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {'quick' if args.quick else 'full'} sizes, "
              f"{os.cpu_count()} CPUs, PostgreSQL {urlsplit(os.environ['DATABASE_URL']).path.lstrip('/')}, "
              f"Redis {os.environ['REDIS_URL']} (ours) and {with_db(args.redis, args.bullmq_db)} (BullMQ)")
    say(header)
    bench = Bench(args)
    rows = [run(bench, workload) for workload in chosen]
    print()
    print(header)
    print(table(rows))
    out = BASE_DIR / "var" / "bench-side-by-side.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"header": header, "rows": [asdict(r) for r in rows], "results": bench.results},
                              indent=2, default=str))
    say(f"figures saved in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
