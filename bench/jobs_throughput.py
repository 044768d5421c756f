"""Jobs throughput, end to end, against raw Celery on the same broker (issue 3).

    REDIS_URL=redis://127.0.0.1:6379/1 [DATABASE_URL=postgres://...] \
        .venv/bin/python bench/jobs_throughput.py [-n 5000] [--rounds 3] [--profile] [--without-events]

One run does, in order, with ONE worker process (``celery worker -Q jobs -c 2``, prefork):
1. raw Celery: ``n`` no-op tasks sent one by one with ``apply_async``; done when the queue and the
   unacknowledged set are empty.
2. service layer: ``n`` ``echo`` jobs through ``jobs.submission.job_submit`` one by one (each INSERT
   committed on its own; message published after it); done when ``n`` are ``completed`` in the database.
3. HTTP: ``n`` ``echo`` jobs through ``POST /jobs/submit`` with Django's test client (the whole DRF
   stack with JWT auth, no socket, no ASGI server); done when ``n`` are ``completed``.
Each rate is ``n`` / (first send → last completion), so submission and draining overlap as in real
use. ``--rounds R`` runs the three phases R times in turn and prints, for each phase, the median rate
and the median of its per-round ratio to raw Celery (the machine's load drifts between rounds).
``--profile`` then runs cProfile over 1,000 submissions and 1,000 executions in this process and
prints where the time goes. The database is a fresh SQLite file unless ``DATABASE_URL`` is
set; the Redis database at ``REDIS_URL`` is FLUSHED: give the benchmark its own database number.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TESTING", "1")  # a development SECRET_KEY; nothing here is served
os.environ.setdefault("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'bench-jobs.sqlite3'}")

if os.environ.get("BENCH_WITHOUT_EVENTS"):
    # Diagnostic only (--without-events): no channel layer, so publish_job_event returns at once. Set
    # before anything touches the layer, here and in the worker (which imports this module with -I).
    from django.conf import settings as _settings

    _settings.CHANNEL_LAYERS = {}

from bench.raw_celery import noop, raw_phase, worker  # noqa: E402
from bench.raw_celery import queue_empty as _queue_empty  # noqa: E402
from bench.raw_celery import wait as _wait  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="jobs (and raw tasks) per phase")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the three phases; print medians")
    parser.add_argument("--profile", action="store_true", help="cProfile submission and execution in-process")
    parser.add_argument(
        "--without-events",
        action="store_true",
        help="diagnostic: measure with live events switched off (no channel layer)",
    )
    args = parser.parse_args()
    if args.without_events and not os.environ.get("BENCH_WITHOUT_EVENTS"):
        os.environ["BENCH_WITHOUT_EVENTS"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    n = args.n

    if os.environ["DATABASE_URL"].startswith("sqlite:///"):
        Path(os.environ["DATABASE_URL"][len("sqlite:///") :]).unlink(missing_ok=True)
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from jobs import submission
    from jobs.models import Job

    call_command("migrate", verbosity=0)
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    Job.objects.all().delete()
    get_user_model().objects.filter(username="bench").delete()  # a previous run on the same database
    user = get_user_model().objects.create_user("bench", "bench@example.test", "S3cure-pass-bench")
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    events = "off (diagnostic)" if os.environ.get("BENCH_WITHOUT_EVENTS") else "on"
    print(f"n={n}  database={db}  redis={settings.REDIS_URL}  cpus={os.cpu_count()}  live events={events}")

    # The test suite's real-process helper (WARNING: no log line per task); it imports this module too,
    # for --without-events.
    celery_worker = worker(2, "bench", "bench.raw_celery,bench.jobs_throughput")
    rounds: list[dict[str, tuple[float, float]]] = []
    try:
        # Warm up: the worker is ready once it has run a task of each kind.
        noop.apply_async()
        submission.job_submit(owner=user, name="echo", data="warm-up")
        _wait(lambda: _queue_empty(client) and Job.objects.filter(state="completed").count() == 1, 120)
        Job.objects.all().delete()
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        done = Job.objects.filter(owner=user, state="completed")
        for _ in range(args.rounds):
            results: dict[str, tuple[float, float]] = {}
            results["raw Celery no-op tasks"] = raw_phase(n, client)

            t0 = time.perf_counter()
            for i in range(n):
                submission.job_submit(owner=user, name="echo", data={"i": i})
            sent = time.perf_counter()
            _wait(lambda: done.count() >= n)
            results["echo jobs, service layer"] = (sent - t0, time.perf_counter() - t0)
            Job.objects.all().delete()

            t0 = time.perf_counter()
            for i in range(n):
                res = api.post("/jobs/submit", {"name": "echo", "data": {"i": i}}, format="json")
                assert res.status_code == 201, res.content
            sent = time.perf_counter()
            _wait(lambda: done.count() >= n)
            results["echo jobs, HTTP (test client)"] = (sent - t0, time.perf_counter() - t0)
            Job.objects.all().delete()
            rounds.append(results)
            _print_round(len(rounds), n, results)
    finally:
        celery_worker.stop()

    if len(rounds) > 1:
        print(f"\nmedian of {len(rounds)} rounds (each ratio against raw Celery in the same round):")
        for name in rounds[0]:
            rates = sorted(n / r[name][1] for r in rounds)
            ratios = sorted((n / r[name][1]) / (n / r["raw Celery no-op tasks"][1]) for r in rounds)
            print(
                f"{name:34} {statistics.median(rates):6.0f}/s  vs raw {statistics.median(ratios):4.0%}"
                f"  (ratios {', '.join(f'{x:.0%}' for x in ratios)})"
            )

    if args.profile:
        _profile(user, min(n, 1000))
    return 0


def _print_round(number: int, n: int, results: dict[str, tuple[float, float]]) -> None:
    raw = n / results["raw Celery no-op tasks"][1]
    print(f"round {number}: {'phase':25} {'submit/s':>9} {'end-to-end/s':>13} {'vs raw':>7}")
    for name, (submit_s, total_s) in results.items():
        rate = n / total_s
        print(f"         {name:34} {n / submit_s:9.0f} {rate:13.0f} {rate / raw:7.0%}")


def _profile(user, n: int) -> None:
    import redis
    from django.conf import settings

    from jobs import runtime, submission
    from jobs.models import Job

    def report(title, fn):
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.runcall(fn)
        took = time.perf_counter() - t0
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(18)
        print(f"\n=== {title}: {n} in {took:.2f} s ({n / took:.0f}/s), cProfile cumulative top ===")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])

    ids: list[int] = []
    report(
        "job_submit",
        lambda: ids.extend(
            submission.job_submit(owner=user, name="echo", data={"i": i})[0].pk for i in range(n)
        ),
    )
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    report(
        "job_execute (what the worker does per job)", lambda: [runtime.job_execute(job_id=i) for i in ids]
    )
    Job.objects.all().delete()


if __name__ == "__main__":
    sys.exit(main())
