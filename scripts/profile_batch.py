"""cProfile of what a pool process does for batches of echo jobs (in-process, real database and Redis).

Uses DATABASE_URL as is (migrates it, deletes its jobs) and FLUSHES the Redis database of REDIS_URL.

    DJANGO_SETTINGS_MODULE=config.settings SECRET_KEY=x DATABASE_URL=... REDIS_URL=... \\
        .venv/bin/python scripts/profile_batch.py
"""

import cProfile
import os
import pstats
import time


def main(n: int = 2000) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from jobs import runtime, submission
    from jobs.models import Job

    call_command("migrate", verbosity=0)
    Job.objects.all().delete()
    user, _ = get_user_model().objects.get_or_create(username="bench")
    pairs = []
    for first in range(0, n, 1000):
        items = [{"name": "echo", "data": i} for i in range(first, first + 1000)]
        pairs += submission.jobs_submit_bulk(owner=user, items=items)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # this process runs them, not a worker
    settings.JOB_BATCH_SLICE_S = 3600
    ids = [job.pk for job, _ in pairs]
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for first in range(0, n, 100):
        runtime.jobs_execute_batch(job_ids=ids[first : first + 100])
    profile.disable()
    elapsed = time.perf_counter() - started
    print(f"{n} echo jobs in batches of 100, one process: {elapsed:.2f} s = {n / elapsed:.0f} jobs/s")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
