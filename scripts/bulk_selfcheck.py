"""Self-check of the batched runtime (the official side-by-side table is ``make bench``): N echo jobs
through ``jobs_submit_bulk`` (1,000 per call), submit -> last completed, one worker with ``-c C``.

Uses DATABASE_URL as is (migrates it, deletes its jobs) and FLUSHES the Redis database of REDIS_URL:
give it databases of its own.

    DJANGO_SETTINGS_MODULE=config.settings SECRET_KEY=x DATABASE_URL=... REDIS_URL=... \\
        .venv/bin/python scripts/bulk_selfcheck.py 20000 2
"""

import os
import signal
import subprocess
import sys
import time


def main(n: int, concurrency: str) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from jobs import submission
    from jobs.models import Job

    call_command("migrate", verbosity=0)
    Job.objects.all().delete()
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    user, _ = get_user_model().objects.get_or_create(username="bench")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "jobs", "-c", concurrency,
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(6)  # the worker is up
        started = time.perf_counter()
        for first in range(0, n, 1000):
            items = [{"name": "echo", "data": i} for i in range(first, min(n, first + 1000))]
            submission.jobs_submit_bulk(owner=user, items=items)
        submitted = time.perf_counter()
        while Job.objects.filter(state="completed").count() < n:
            time.sleep(0.2)
        done = time.perf_counter()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait()
    print(
        f"{n} jobs, worker -c {concurrency}: submitted in {submitted - started:.2f} s "
        f"({n / (submitted - started):.0f}/s); submit -> last completed {done - started:.2f} s "
        f"= {n / (done - started):.0f} jobs/s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000, sys.argv[2] if len(sys.argv) > 2 else "2")
